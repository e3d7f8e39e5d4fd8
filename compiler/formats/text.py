"""`text`: a folder of .txt/.md files, one record per file (`id` = the relative path without its
suffix, `text`, `path`). A source or corpus path ending in `/` is one."""

from __future__ import annotations

from synthc.compiler.formats.base import DataFormat

__all__ = ["Text", "TEXT_SUFFIXES"]

TEXT_SUFFIXES = (".txt", ".md", ".text")


class Text(DataFormat):
    name = "text"
    doc = "a folder of .txt/.md files, one row per file (a source path ending in `/`)"
