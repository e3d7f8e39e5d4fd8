"""The runtime's half of each data format: one `Codec` per module — its reader, its writer where it
writes one file, the diagnostics they raise — registered by the name of its `DataFormat`
(compiler/formats/, which decides a path's format). Sources, corpora, `synthc eval`'s datasets and
`synthc init` read through `runtime/io/data.read_table`, exports encode through
`runtime/io/writers.encode_rows`; both look the codec up here."""

from __future__ import annotations

from synthc.runtime.io.formats.base import Codec, Records
from synthc.runtime.io.formats.csv import Csv
from synthc.runtime.io.formats.hf import Hf
from synthc.runtime.io.formats.jsonl import Jsonl
from synthc.runtime.io.formats.parquet import Parquet
from synthc.runtime.io.formats.text import Text

__all__ = ["Codec", "Records", "CODECS", "get"]

CODECS: dict[str, Codec] = {c.name: c for c in (Jsonl(), Csv(), Parquet(), Text(), Hf())}


def get(name: str) -> Codec:
    return CODECS[name]
