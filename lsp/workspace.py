"""The server's model of the user's files: open buffers, and one analysis per open recipe.

Each open recipe is compiled as `synthc check` would compile it (the same stages, through
`compiler.run_stages`), reading open buffers before the disk and reusing unchanged parses. A
recipe's analysis covers its imports, so an edit to an imported file re-analyses its importers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from synthc.compiler import Stages, run_stages
from synthc.compiler.resolve import Loader
from synthc.compiler.source import SourceFile

from synthc.lsp.incremental import ChunkedParser
from synthc.lsp.index import Index, build
from synthc.lsp.positions import Text

__all__ = ["Analysis", "Workspace"]


@dataclass(slots=True)
class Analysis:
    path: str  # the recipe compiled as the main file (absolute)
    stages: Stages
    encoding: str = "utf-16"
    overrides: frozenset[str] = frozenset()  # params set by the editor's `--set` overrides
    _texts: dict[int, Text] = field(default_factory=dict)
    _index: Index | None = None

    @property
    def index(self) -> Index:
        """Declarations and uses, built on first use (diagnostics after an edit do not need it)."""
        if self._index is None:
            self._index = build(self.stages.specs, self.stages.sources)
        return self._index

    def file_id(self, path: str) -> int | None:
        for i, f in enumerate(self.stages.sources.files):
            if os.path.abspath(f.path) == path:
                return i
        return None

    def paths(self) -> list[str]:
        return [os.path.abspath(f.path) for f in self.stages.sources.files]

    def text(self, file: int) -> Text:
        if file not in self._texts:
            self._texts[file] = Text(self.stages.sources.files[file], self.encoding)
        return self._texts[file]


class Workspace:
    def __init__(self) -> None:
        self.docs: dict[str, str] = {}  # open buffers by absolute path
        self.analyses: dict[str, Analysis] = {}  # by main path, for open recipes
        self.checked: dict[str, Analysis] = {}  # the last analysis of each recipe that got through `check`
        self.overrides: dict[str, str] = {}  # `--set`-style param overrides (initializationOptions)
        self.encoding = "utf-16"
        self.parser = ChunkedParser()
        self.loader = Loader(read=self._read, exists=self._exists, parse=self.parser)

    def _read(self, path: str) -> str:
        key = os.path.abspath(path)
        if key in self.docs:
            return self.docs[key]
        with open(path, encoding="utf-8") as fh:
            return fh.read()

    def _exists(self, path: str) -> bool:
        return os.path.abspath(path) in self.docs or os.path.exists(path)

    def analyse(self, path: str) -> Analysis:
        """Compile recipe `path` (an open buffer or a file) and remember the result."""
        stages = run_stages(path, self.docs.get(path), self.overrides or None, self.loader, inputs=True)
        if stages.resolved is not None and not set(self.overrides) <= set(stages.resolved.params):
            # The editor's overrides apply to the recipes that declare those params (no E110 elsewhere).
            known = {k: v for k, v in self.overrides.items() if k in stages.resolved.params}
            stages = run_stages(path, self.docs.get(path), known or None, self.loader, inputs=True)
        analysis = Analysis(path, stages, self.encoding,
                            frozenset(stages.resolved.params) & frozenset(self.overrides) if stages.resolved else frozenset())
        self.analyses[path] = analysis
        if stages.checked is not None:
            self.checked[path] = analysis
        return analysis

    def importers(self, path: str) -> list[str]:
        """Open recipes whose last analysis read `path` (itself included when open)."""
        return sorted(p for p, a in self.analyses.items() if p in self.docs and (p == path or path in a.paths()))

    def related(self, path: str) -> list[Analysis]:
        """Every current analysis that includes `path`: its own, then its importers'."""
        own = [self.analyses[path]] if path in self.analyses else []
        return own + [a for p, a in sorted(self.analyses.items()) if p != path and path in a.paths()]

    def source_text(self, path: str) -> Text | None:
        """A file's text for position conversions, from any analysis that read it, else the disk."""
        for a in self.related(path):
            fid = a.file_id(path)
            if fid is not None:
                return a.text(fid)
        try:
            return Text(SourceFile.of(path, self._read(path)), self.encoding)
        except (OSError, UnicodeDecodeError):
            return None
