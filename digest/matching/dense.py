"""The dense-embedding backend of the semantic layer: a pre-trained sentence encoder
(all-MiniLM-L6-v2, a 6-layer BERT trained on a billion sentence pairs, scientific citation
pairs among them) run in numpy, so that "how people move around cities" finds mobility
papers that share none of its words, where the corpus-fitted LSA of semantic.py can only
find papers whose words co-occur in a few thousand stored abstracts.

The weights are read from a local folder (MATCH_EMBEDDING_MODEL; `make model` puts them in
models/ at setup), never from the network at run time, and are checked against the
official files' SHA-256 before use: a different or damaged file is refused with the reason.
Inference is a plain forward pass (embeddings, six attention layers, mean pooling) over
numpy arrays: no deep-learning framework to install for 22 M parameters. The tokenizer is
Hugging Face's `tokenizers` and the weights are read by `safetensors` (no pickle).

A paper is embedded from "title. abstract" once per process and text (a bounded memo), and
once at all where a store keeps the vectors (digest.vectors, in the database); typed texts
(an about-me, a keyword, a topic's name) from what they say is wanted. Every path that ranks
(one subscriber, a batch, the reference) asks the same encoder object, so they get the same
vector for the same text to the last digit."""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.special import erf

# The official all-MiniLM-L6-v2 files (sentence-transformers, revision 1110a243fdf4).
PINNED = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
# Where `make model` (scripts/embedding_model.py) installs them; paperpost/settings.py
# names the same folder (settings stay free of the engine's imports).
BUNDLED_MODEL = Path(__file__).resolve().parents[2] / "models" / "all-MiniLM-L6-v2"
MAX_TOKENS = 256  # the model's max_seq_length: a title and most of an abstract
BATCH = 32


class ModelError(ValueError):
    """The model folder is missing a file, or a file is not the pinned one."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(folder: str | Path, pinned: dict[str, str] = PINNED) -> Path:
    """The folder, once each pinned file is there with its pinned SHA-256; ModelError
    naming the file otherwise."""
    folder = Path(folder)
    for name, expected in pinned.items():
        path = folder / name
        if not path.is_file():
            raise ModelError(f"embedding model: {path} is missing (run `make model`)")
        found = sha256_of(path)
        if found != expected:
            raise ModelError(f"embedding model: {path} has SHA-256 {found}, not the pinned {expected}")
    return folder


class TextEncoder:
    """Unit-length sentence vectors of texts; encode() memoises the last MEMO texts."""

    MEMO = 200_000  # 1.5 KB each: a few months of papers per process

    def __init__(self, folder: str | Path, pinned: dict[str, str] | None = PINNED):
        # Imported only where an encoder is switched on (MATCH_EMBEDDING_MODEL).
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer  # (the same reason)

        folder = verify(folder, pinned) if pinned else Path(folder)
        config = json.loads((folder / "config.json").read_text())
        if config.get("model_type") != "bert":
            raise ModelError(f"embedding model: {folder} is a {config.get('model_type')!r} model, not BERT")
        self.layers, self.heads = config["num_hidden_layers"], config["num_attention_heads"]
        self.eps = config.get("layer_norm_eps", 1e-12)
        weights = load_file(str(folder / "model.safetensors"))
        prefix = "" if "embeddings.word_embeddings.weight" in weights else "bert."
        self.w = {k[len(prefix):]: v.astype(np.float32) for k, v in weights.items() if k.startswith(prefix)}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.dimensions = self.w["embeddings.word_embeddings.weight"].shape[1]
        self.name = folder.name
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # the batch computes texts on a second thread
        # Where vectors computed before (by this or another process) are kept: an object
        # with get(keys) -> {key: vector} and put({key: vector}) (digest.vectors.DatabaseStore).
        self.store = None

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """len(texts) x dimensions float32 unit rows (zero for an empty text)."""
        with self._lock:
            todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
            if todo and self.store is not None:
                found = self.store.get([self.key(t) for t in todo])
                for text in todo:
                    vector = found.get(self.key(text))
                    if vector is not None and vector.shape == (self.dimensions,):
                        self._memo[text] = vector
                todo = [t for t in todo if t not in self._memo]
            computed = {}
            # Similar lengths together: little padding. Each vector is kept as first
            # computed, so every later ask gets the same digits.
            todo.sort(key=len)
            for start in range(0, len(todo), BATCH):
                chunk = todo[start:start + BATCH]
                for text, vector in zip(chunk, self._forward_texts(chunk)):
                    self._memo[text] = computed[self.key(text)] = vector
            if computed and self.store is not None:
                self.store.put(computed)
            while len(self._memo) > self.MEMO:
                self._memo.popitem(last=False)
            out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
            for k, text in enumerate(texts):
                out[k] = self._memo[text]
            return out

    def _forward_texts(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch([t if t.strip() else "" for t in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        vectors = self.forward(ids, mask)
        vectors[[not t.strip() for t in texts]] = 0.0
        return vectors

    # -- the network --------------------------------------------------------------------------

    def _norm(self, x, name):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def _linear(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """BERT's encoder, mean-pooled over the real tokens and scaled to unit length."""
        w = self.w
        batch, length = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length][None]
             + w["embeddings.token_type_embeddings.weight"][0][None, None])
        x = self._norm(x, "embeddings.LayerNorm")
        heads, size = self.heads, x.shape[-1] // self.heads
        padding = ((1.0 - mask) * -1e9)[:, None, None, :].astype(np.float32)
        for i in range(self.layers):
            layer = f"encoder.layer.{i}."

            def split(name, layer=layer):
                return self._linear(x, layer + name).reshape(batch, length, heads, size).transpose(0, 2, 1, 3)

            q, k, v = split("attention.self.query"), split("attention.self.key"), split("attention.self.value")
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size) + padding
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, heads * size)
            x = self._norm(self._linear(context, layer + "attention.output.dense") + x, layer + "attention.output.LayerNorm")
            hidden = self._linear(x, layer + "intermediate.dense")
            hidden = 0.5 * hidden * (1.0 + erf(hidden / math.sqrt(2.0)).astype(np.float32))  # exact GELU
            x = self._norm(self._linear(hidden, layer + "output.dense") + x, layer + "output.LayerNorm")
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def paper_text(doc) -> str:
    """What a paper is embedded from."""
    return f"{doc.title}. {doc.abstract or ''}".strip()


_loaded: dict[str, TextEncoder] = {}
_load_lock = threading.Lock()


def load_encoder(folder: str | Path) -> TextEncoder:
    """One encoder per folder and process (the weights take 90 MB)."""
    key = str(Path(folder).resolve())
    with _load_lock:
        if key not in _loaded:
            _loaded[key] = TextEncoder(folder)
        return _loaded[key]
