"""CSV with a header row (compiler/formats/csv.py)."""

from __future__ import annotations

import csv
import io

from synthc.compiler.source import Span
from synthc.runtime.errors import fail
from synthc.runtime.io.formats.base import Codec, Records, flat

__all__ = ["Csv"]


class Csv(Codec):
    name = "csv"

    def read(self, path: str, origin: Span) -> Records:
        """Rows as dicts; a row with fewer or more fields than the header is E504, never padded.
        A UTF-8 byte order mark (Excel writes one) is dropped, so the first column keeps its name."""
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            try:
                header = next(reader, None)
                if header is None:
                    return []
                rows = []
                for values in reader:
                    if not values:
                        continue
                    if len(values) != len(header):
                        raise fail("E504", f"{path}:{reader.line_num}: {len(values)} field(s), the header has "
                                   f"{len(header)}", origin, "declared here",
                                   help="quote fields that contain commas; every row needs one value per column")
                    rows.append(dict(zip(header, values)))
                return rows
            except csv.Error as err:
                raise fail("E504", f"{path}:{reader.line_num}: malformed CSV: {err}", origin, "declared here") from None

    def encode(self, rows: Records) -> bytes:
        table, columns = flat(rows)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(table)
        return buf.getvalue().encode("utf-8")
