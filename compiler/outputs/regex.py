"""`regex`: one field matching a regular expression as a whole."""

from __future__ import annotations

from synthc.compiler.outputs.base import OutputKind

__all__ = ["Regex"]


class Regex(OutputKind):
    name = "regex"
    doc = "a lone `regex(\"…\")` field: the whole answer matches the pattern"
    what = "a regular expression"

    def claims(self, types: tuple[str, ...], template: bool) -> bool:
        return not template and types == ("regex",)
