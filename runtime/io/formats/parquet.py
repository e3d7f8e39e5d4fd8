"""Apache Parquet through pyarrow (compiler/formats/parquet.py)."""

from __future__ import annotations

from synthc.compiler.source import Span
from synthc.runtime.errors import fail
from synthc.runtime.io.formats.base import Codec, Records, flat

__all__ = ["Parquet"]


class Parquet(Codec):
    name = "parquet"

    def read(self, path: str, origin: Span) -> Records:
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise fail("E504", "reading Parquet needs pyarrow", origin, "declared here",
                       help="pip install pyarrow") from None
        try:
            return pq.read_table(path).to_pylist()  # type: ignore[no-any-return]
        except Exception as err:  # pyarrow raises many types for a damaged file
            raise fail("E504", f"{path}: unreadable Parquet: {err}", origin, "declared here") from None

    def encode(self, rows: Records) -> bytes:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table, columns = flat(rows)
        data = pa.Table.from_pylist(table) if table else pa.table({c: [] for c in columns})
        sink = pa.BufferOutputStream()
        pq.write_table(data, sink, compression="zstd")
        return bytes(sink.getvalue().to_pybytes())
