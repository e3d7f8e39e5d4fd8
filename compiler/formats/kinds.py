"""The registered data formats, in the order a source's `format` choices list them."""

from __future__ import annotations

from synthc.compiler.formats.base import DataFormat
from synthc.compiler.formats.csv import Csv
from synthc.compiler.formats.hf import Hf
from synthc.compiler.formats.jsonl import Jsonl
from synthc.compiler.formats.parquet import Parquet
from synthc.compiler.formats.text import Text

__all__ = ["FORMATS", "FALLBACK"]

FORMATS: tuple[DataFormat, ...] = (Jsonl(), Csv(), Parquet(), Text(), Hf())
FALLBACK = "jsonl"  # a file whose name no format claims (docs/language.md, "Reading files")
