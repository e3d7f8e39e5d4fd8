"""`csv`: comma-separated values with a header row (a UTF-8 byte order mark is dropped)."""

from __future__ import annotations

from synthc.compiler.formats.base import DataFormat

__all__ = ["Csv"]


class Csv(DataFormat):
    name = "csv"
    doc = "CSV with a header row; nested values are written as JSON text"
    extensions = ("csv",)
    writes = True
    export_rank = 2
