"""Always on, nothing to set: a row repeating a label's verbalization or the diversity prompt
(`echo.label`), or a span of its own rendered instruction (`echo.template`), is dropped."""

from __future__ import annotations

from synthc.compiler.filters.base import FilterKind

__all__ = ["Echo"]


class Echo(FilterKind):
    name = "echo"
    order = 40
    card_reasons = ("echo.label",)
