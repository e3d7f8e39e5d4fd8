"""The data-format registry: one `DataFormat` (compiler/formats/: name, extensions, what it reads
and writes) and one codec (runtime/io/formats/: reader, writer) per format; detection, the schema's
`format` choices, reading and writing all come from them."""

from __future__ import annotations

import os

import pytest

from synthc.compiler.formats import FORMATS, NAMES, detect
from synthc.compiler.schema import SCHEMAS
from synthc.compiler.source import NO_SPAN
from synthc.runtime.io import formats
from synthc.runtime.io.data import read_table
from synthc.runtime.io.writers import encode_rows

ROWS = [{"id": "1", "text": "a, \"quoted\" film", "label": "positive", "provenance": {"seed": 3}},
        {"id": "2", "text": "dull\nsecond line", "label": "negative", "provenance": {"seed": None}}]


def test_both_halves_name_the_same_formats() -> None:
    assert set(formats.CODECS) == set(NAMES)
    assert all(f.doc for f in FORMATS)
    claimed = [e for f in FORMATS for e in f.extensions]
    assert len(claimed) == len(set(claimed)), "two formats claim one extension"


def test_the_schema_offers_what_the_formats_read_and_write() -> None:
    read = SCHEMAS["source"].field("format").type
    assert read.choices == tuple(f.name for f in FORMATS if f.reads) and len(read.choice_docs) == len(read.choices)
    assert SCHEMAS["corpus"].field("format").type.choices == read.choices
    assert set(SCHEMAS["export"].field("format").type.choices) == {f.name for f in FORMATS if f.writes}


@pytest.mark.parametrize("fmt", [f.name for f in FORMATS if f.writes and f.name != "hf"])
def test_every_file_format_reads_back_what_it_writes(fmt: str, tmp_path: str) -> None:
    """Through the registry end to end: the extension a format claims selects it, its writer's
    bytes are deterministic and its reader returns the rows (nested values as JSON text in tables)."""
    ext = next(f for f in FORMATS if f.name == fmt).extensions[0]
    path = os.path.join(str(tmp_path), f"rows.{ext}")
    assert detect(path) == fmt
    data = encode_rows(ROWS, fmt)
    assert data == encode_rows([dict(r) for r in ROWS], fmt)
    if fmt != "parquet":  # Parquet keeps the rows' column order (an export's records have a fixed one)
        assert data == encode_rows([dict(reversed(list(r.items()))) for r in ROWS], fmt)
    with open(path, "wb") as fh:
        fh.write(data)
    back = read_table(path, detect(path), NO_SPAN)
    if fmt == "jsonl":
        assert back == ROWS
    else:
        assert [r["text"] for r in back] == [r["text"] for r in ROWS]
        assert back[0]["provenance"] == '{"seed": 3}'


def test_a_path_no_format_claims_reads_as_json_lines(tmp_path: str) -> None:
    assert [detect(p) for p in ("notes", "a.txt", "b.data", "c.JSONL", "d/")] == ["jsonl"] * 4 + ["text"]
    assert detect("d/", folder="hf") == "hf" and detect("x.csv", "parquet") == "parquet"
