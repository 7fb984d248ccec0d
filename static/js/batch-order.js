"use strict";
// The batch page's papers: drag a row by its handle to move it; the position fields are then
// renumbered in the new order, and saving stores it. Without this script the same position
// fields are typed by hand (the server renumbers 1, 2, 3 ... on save either way).
document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("batch-entries");
  if (!table) return;
  const body = table.tBodies[0];
  const rows = () => Array.from(body.querySelectorAll("tr.entry"));
  const inputs = () => rows().map((row) => row.querySelector("input.position"));
  // The positions the listed rows hold between them: all of them (1 .. N) on the whole
  // batch, the rows' own on a search within the batch.
  const filtered = table.dataset.filtered === "true";
  const slots = filtered
    ? inputs().map((input) => Number(input.value) || 0).sort((a, b) => a - b)
    : inputs().map((_, i) => i + 1);
  let dragged = null;

  function renumber() {
    inputs().forEach((input, i) => {
      const value = String(slots[i]);
      if (input.value !== value) {
        input.value = value;
        input.closest("tr").classList.add("moved");
      }
    });
  }

  table.classList.add("sortable");
  rows().forEach((row) => {
    const handle = row.querySelector(".handle");
    handle.draggable = true;
    handle.addEventListener("dragstart", (event) => {
      dragged = row;
      row.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", row.dataset.title || "");
      event.dataTransfer.setDragImage(row, 12, 12);
    });
    handle.addEventListener("dragend", () => {
      row.classList.remove("dragging");
      dragged = null;
      renumber();
    });
    row.addEventListener("dragover", (event) => {
      if (!dragged) return;
      event.preventDefault();
      if (dragged === row) return;
      const box = row.getBoundingClientRect();
      body.insertBefore(dragged, event.clientY > box.top + box.height / 2 ? row.nextSibling : row);
    });
    row.addEventListener("drop", (event) => {
      event.preventDefault();
      renumber();
    });
  });
});
