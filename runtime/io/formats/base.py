"""What a format's runtime half declares (runtime/io/formats/__init__.py explains the registry)."""

from __future__ import annotations

from typing import Any, ClassVar

from synthc.compiler.source import Span

__all__ = ["Codec", "Records"]

Records = list[dict[str, Any]]


class Codec:
    """The reader and writer of one data format; `name` is its `DataFormat` (compiler/formats/).
    `read` raises coded diagnostics (E503 unreadable, E504 malformed, E510 a missing package) at
    `origin`; the caller (runtime/io/data.read_table) has already checked that the path exists and
    is a file (or, `folder`, a folder), and maps an undecodable byte or an OSError to E504/E503."""

    name: ClassVar[str]
    folder: ClassVar[bool] = False  # its path is a folder, not a file
    own_paths: ClassVar[bool] = False  # it finds its data itself (`hf:` ids name no path on disk)

    def read(self, path: str, origin: Span) -> Records:
        raise NotImplementedError

    def encode(self, rows: Records) -> bytes:
        """A dataset file's bytes, deterministic for the same rows (sorted keys)."""
        raise NotImplementedError(f"{self.name} writes no single file")


def flat(rows: Records) -> tuple[Records, list[str]]:
    """Rows for a table format: nested values as JSON text; and every column, sorted."""
    import json

    out = [{k: (json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, (dict, list)) else v)
            for k, v in r.items()} for r in rows]
    return out, sorted({k for r in out for k in r})
