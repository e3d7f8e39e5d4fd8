"""Runtime failures as coded diagnostics that point at the spec line responsible."""

from __future__ import annotations

from synthc.compiler.diagnostics import Diagnostic, Sink
from synthc.compiler.source import Span

__all__ = ["RunFailed", "fail"]


class RunFailed(Exception):
    """Raised by a step; the CLI renders its diagnostics and exits 1. Nothing partial is written."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics


def fail(code: str, message: str, origin: Span, label: str = "", help: str | None = None,
         notes: tuple[str, ...] = ()) -> RunFailed:
    sink = Sink()
    sink.error(code, message, origin, label, help=help, notes=notes)
    return RunFailed(sink.items)
