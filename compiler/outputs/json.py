"""`json`: a JSON object under the schema of every declared field (the fallback: any output no
other kind claims, e.g. several fields or an `object` block)."""

from __future__ import annotations

from synthc.compiler.outputs.base import OutputKind

__all__ = ["Json"]


class Json(OutputKind):
    name = "json"
    doc = "several fields (or an `object`, a `list`): one JSON object with a closed schema"
    what = "a JSON object"

    def claims(self, types: tuple[str, ...], template: bool) -> bool:
        return not template
