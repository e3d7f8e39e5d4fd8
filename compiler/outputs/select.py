"""`select`: one field among fixed options (a `label()` or a `choice([...])`), decoded greedily."""

from __future__ import annotations

from synthc.compiler.outputs.base import OutputKind

__all__ = ["Select"]


class Select(OutputKind):
    name = "select"
    doc = "a lone `label()` or `choice([...])` field: the model picks one of the options"
    what = "a choice among fixed options"

    def claims(self, types: tuple[str, ...], template: bool) -> bool:
        return not template and types in (("label",), ("choice",))
