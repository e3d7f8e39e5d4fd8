"""`text`: free text (one `string` field), bounded by stops and the token cap only; the `parse`
block's prefix, split and quote rules apply to it alone."""

from __future__ import annotations

from synthc.compiler.outputs.base import OutputKind

__all__ = ["Text"]


class Text(OutputKind):
    name = "text"
    doc = "a lone `string` field (the default `text`): free text, cut at stops and `max_tokens`"
    what = "free text"

    def claims(self, types: tuple[str, ...], template: bool) -> bool:
        return not template and types == ("string",)
