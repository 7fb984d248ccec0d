"""Ingest: parse (one pure module per format, bytes -> records), fetch (with guards) and
store (bulk upsert into Paper and the day's Batch) are separate steps."""
