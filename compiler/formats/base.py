"""What a data format declares (compiler/formats/__init__.py explains the registry)."""

from __future__ import annotations

from typing import ClassVar

__all__ = ["DataFormat"]


class DataFormat:
    """The compiler's half of one data format: its name (a source's, corpus's or export's
    `format`), its docs, the file name endings that select it, and what it can do. The runtime's
    half — its reader and writer and the diagnostics they raise — is the codec of the same name in
    runtime/io/formats/."""

    name: ClassVar[str]
    doc: ClassVar[str]  # one line: hover and completion on `format = …`
    extensions: ClassVar[tuple[str, ...]] = ()  # lower-case, without the dot: a path ending so is this format
    reads: ClassVar[bool] = True  # a source or corpus may read it
    writes: ClassVar[bool] = False  # an export may write it
    export_rank: ClassVar[int] = 0  # place in the export block's `format` choices (they predate the registry)
