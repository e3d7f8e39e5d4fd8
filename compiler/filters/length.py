"""`words = a..b`, `chars = a..b`: keep rows of this length (reasons `words`, `chars`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.compiler.fields import RANGE, Field
from synthc.compiler.filters.base import FilterKind

if TYPE_CHECKING:
    from synthc.compiler import ir
    from synthc.compiler.values import Values

__all__ = ["Words", "Chars"]


class _Length(FilterKind):
    def lower(self, filt: Values | None, seeds: str | None) -> dict[str, Any]:
        return {self.name: filt.values.get(self.name) if filt is not None else None}


class Words(_Length):
    name = ir_field = "words"
    order = 10
    settings = (Field("words", RANGE("int", 0), doc="keep rows with this many words"),)
    card_reasons = ("words",)
    summary_rank = 20

    def summary(self, f: ir.Filter) -> str | None:
        return f"words={f.words[0]}..{f.words[1]}" if f.words else None


class Chars(_Length):
    name = ir_field = "chars"
    order = 20
    settings = (Field("chars", RANGE("int", 0)),)
