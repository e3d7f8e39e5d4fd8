"""A folder of text files, one record per file (compiler/formats/text.py)."""

from __future__ import annotations

import os

from synthc.compiler.formats.text import TEXT_SUFFIXES
from synthc.compiler.source import Span
from synthc.runtime.errors import fail
from synthc.runtime.io.formats.base import Codec, Records

__all__ = ["Text", "text_files"]


def text_files(folder: str) -> list[str]:
    """Relative paths of the documents under `folder`, sorted (hidden entries skipped)."""
    out = []
    for base, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in files:
            if f.endswith(TEXT_SUFFIXES) and not f.startswith("."):
                out.append(os.path.relpath(os.path.join(base, f), folder).replace(os.sep, "/"))
    return sorted(out)


class Text(Codec):
    name = "text"
    folder = True

    def read(self, path: str, origin: Span) -> Records:
        """One record per text file: `id` = relative path without suffix, `text`, `path`."""
        if not os.path.isdir(path):
            raise fail("E504", f"{path} is not a folder of text files", origin, "declared here",
                       help="`format = \"text\"` reads every .txt/.md file under a folder")
        rows = []
        for rel in text_files(path):
            try:
                with open(os.path.join(path, rel), encoding="utf-8") as fh:
                    text = fh.read()
            except UnicodeDecodeError:
                raise fail("E504", f"{path}/{rel}: not UTF-8 text", origin, "declared here",
                           help="convert the file to UTF-8 or move it out of the folder") from None
            rows.append({"id": os.path.splitext(rel)[0], "text": text.strip(), "path": rel})
        return rows
