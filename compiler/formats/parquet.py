"""`parquet`: Apache Parquet files (pyarrow; written zstd-compressed)."""

from __future__ import annotations

from synthc.compiler.formats.base import DataFormat

__all__ = ["Parquet"]


class Parquet(DataFormat):
    name = "parquet"
    doc = "Apache Parquet (pyarrow), written zstd-compressed"
    extensions = ("parquet", "pq")
    writes = True
    export_rank = 1
