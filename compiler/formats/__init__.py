"""The data formats: each is one self-describing `DataFormat` in its own module, collected here.

A format declares its name and doc (the `format` field's choices, hover and completion), the file
name endings that select it, and whether sources read it and exports write it. `detect` is the one
place a path's format is decided — for recipes (compiler/lower.py), `synthc eval` and `synthc init`
alike. The runtime's half of each format (its reader, its writer, the E503/E504 diagnostics they
raise) is the codec of the same name in runtime/io/formats/; a test checks both registries name
the same formats. Adding a format = one module here + one codec there.
"""

from __future__ import annotations

import os

from synthc.compiler.fields import ENUM, T
from synthc.compiler.formats.base import DataFormat
from synthc.compiler.formats.hf import HF_MARKERS, HF_PREFIX, is_hf_folder
from synthc.compiler.formats.kinds import FALLBACK, FORMATS

__all__ = ["DataFormat", "FORMATS", "NAMES", "get", "detect", "source_type", "export_type", "HF_PREFIX",
           "HF_MARKERS", "is_hf_folder"]

NAMES: tuple[str, ...] = tuple(f.name for f in FORMATS)
assert len(set(NAMES)) == len(NAMES), "a format registered twice"


def get(name: str) -> DataFormat:
    return next(f for f in FORMATS if f.name == name)


def source_type() -> T:
    """A source's or corpus's `format`: every format it can read."""
    readable = [f for f in FORMATS if f.reads]
    return ENUM(*(f.name for f in readable), docs=tuple(f.doc for f in readable))


def export_type() -> T:
    """An export's `format`: every format that writes."""
    writable = sorted((f for f in FORMATS if f.writes), key=lambda f: f.export_rank)
    return ENUM(*(f.name for f in writable), docs=tuple(f.doc for f in writable))


def detect(path: str, declared: str | None = None, root: str | None = None, folder: str = "text") -> str:
    """The one place a data path's format is decided: the declared `format`, else from the path:
    `hf:` ids; a folder that holds a Hugging Face dataset (looked at when `root` is given); a
    trailing `/` is `folder` (a folder of text files for sources, an HF dataset for exports); the
    format whose `extensions` the name ends with; anything else JSON lines (whose reader also
    takes a file holding one JSON array of objects).

    >>> [detect(p) for p in ("a.jsonl", "a.json", "a.CSV", "b.pq", "hf:o/n", "docs/", "notes")]
    ['jsonl', 'jsonl', 'csv', 'parquet', 'hf', 'text', 'jsonl']
    """
    if declared:
        return declared
    if path.startswith(HF_PREFIX):
        return "hf"
    if root is not None and is_hf_folder(os.path.join(root, path)):
        return "hf"
    if path.endswith(("/", os.sep)):
        return folder
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    return next((f.name for f in FORMATS if ext in f.extensions), FALLBACK)
