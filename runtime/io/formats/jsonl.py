"""JSON lines, or one JSON array of objects (compiler/formats/jsonl.py)."""

from __future__ import annotations

import json
import os
from typing import Any

from synthc.compiler.source import Span
from synthc.runtime.errors import fail
from synthc.runtime.io.formats.base import Codec, Records

__all__ = ["Jsonl"]


class Jsonl(Codec):
    name = "jsonl"

    def read(self, path: str, origin: Span) -> Records:
        """One object per line; or a file holding one JSON array, told apart by the first
        character. A UTF-8 byte order mark at the start is dropped."""
        rows = []
        with open(path, encoding="utf-8-sig") as fh:
            head = fh.read(4096).lstrip()
            fh.seek(0)
            if head.startswith("["):
                return _array(fh.read(), path, origin)
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as err:
                    raise fail("E504", f"{path}:{n}: malformed JSON line: {err.msg}", origin, "declared here",
                               help=f"fix or remove line {n} of {os.path.basename(path)}") from None
                if not isinstance(obj, dict):
                    raise fail("E504", f"{path}:{n}: expected a JSON object per line", origin, "declared here")
                rows.append(obj)
        return rows

    def encode(self, rows: Records) -> bytes:
        return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode("utf-8")


def _array(text: str, path: str, origin: Span) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise fail("E504", f"{path}:{err.lineno}: malformed JSON: {err.msg}", origin, "declared here",
                   help=f"fix line {err.lineno} of {os.path.basename(path)}") from None
    bad = next((i for i, obj in enumerate(data) if not isinstance(obj, dict)), None) if isinstance(data, list) else 0
    if bad is not None:
        raise fail("E504", f"{path}: expected an array of JSON objects (item {bad + 1} is not one)", origin,
                   "declared here", help="write one object per row: `[{\"text\": …, \"label\": …}, …]` or JSON lines")
    return data
