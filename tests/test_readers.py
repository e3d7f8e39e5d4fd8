"""The one place data files are read (runtime/data.read_table) and the one place their format is
decided (compiler/lower.data_format): a recipe's source and `synthc eval` read a file alike."""

from __future__ import annotations

import json
import os

import pytest

from synthc.compiler.lower import data_format
from synthc.compiler.source import NO_SPAN
from synthc.runtime import RunFailed
from synthc.runtime.io.data import read_table
from synthc.runtime.eval import read_dataset

ROWS = [{"id": "1", "text": "a good film", "label": "positive"}, {"id": "2", "text": "dull", "label": "negative"}]
BOM = b"\xef\xbb\xbf"


def _write(path: str, data: bytes) -> str:
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def _jsonl() -> bytes:
    return "".join(json.dumps(r) + "\n" for r in ROWS).encode()


def _csv() -> bytes:
    return ("id,text,label\n" + "".join(f"{r['id']},{r['text']},{r['label']}\n" for r in ROWS)).encode()


@pytest.mark.parametrize("name,body", [("bom.jsonl", BOM + _jsonl()), ("bom.csv", BOM + _csv()),
                                       ("array.json", BOM + json.dumps(ROWS, indent=1).encode())])
def test_a_byte_order_mark_is_dropped_and_a_json_array_is_read(name: str, body: bytes, tmp_path: str) -> None:
    """Excel and Windows editors start UTF-8 files with a BOM; it must not break the first line or
    rename the first CSV column to `\\ufeffid`."""
    path = _write(os.path.join(str(tmp_path), name), body)
    assert read_table(path, data_format(path), NO_SPAN) == ROWS


def test_eval_and_a_recipe_read_a_json_file_the_same_way(tmp_path: str) -> None:
    for name, body in (("lines.json", _jsonl()), ("array.json", json.dumps(ROWS).encode())):
        path = _write(os.path.join(str(tmp_path), name), body)
        assert data_format(path) == "jsonl"  # one rule: `.json` is JSON lines, or one array of objects
        d = read_dataset(path, "d", need_labels=True)
        assert d.texts == ("a good film", "dull") and d.labels == ("positive", "negative")


def test_a_json_array_of_non_objects_is_e504(tmp_path: str) -> None:
    path = _write(os.path.join(str(tmp_path), "bad.json"), b'[{"text": "a"}, 3]')
    with pytest.raises(RunFailed) as info:
        read_table(path, data_format(path), NO_SPAN)
    assert info.value.diagnostics[0].code.id == "E504" and "item 2" in info.value.diagnostics[0].message
