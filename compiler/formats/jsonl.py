"""`jsonl`: JSON lines, one object per line — or a `.json` file holding one array of objects (as
pandas writes it), told apart by the first character. Any path no other format claims is read
as JSON lines, so `.json`, `.ndjson` and extension-less files work as they are."""

from __future__ import annotations

from synthc.compiler.formats.base import DataFormat

__all__ = ["Jsonl"]


class Jsonl(DataFormat):
    name = "jsonl"
    doc = "JSON lines (one object per line) or a JSON array of objects; any path no other format claims"
    extensions = ("jsonl", "json", "ndjson")
    writes = True
    export_rank = 0
