"""A plain OpenAI-compatible API (hosted): strict `response_format` on the chat endpoint only, at
most 4 stop strings."""

from __future__ import annotations

from typing import Any

from synthc.compiler.dialects import get
from synthc.runtime.backends.dialects.base import Dialect, response_format

__all__ = ["OpenAI", "strict"]


class OpenAI(Dialect):
    spec = get("openai")
    max_stops = 4

    def json(self, schema: dict[str, Any], mode: str, body: dict[str, Any]) -> str:
        body["response_format"] = response_format(self.enforced(schema))
        return ""

    def enforced(self, schema: dict[str, Any]) -> dict[str, Any]:
        return strict(schema)  # type: ignore[no-any-return]


def strict(schema: Any) -> Any:
    """OpenAI's strict mode: every property required, no extra ones, no length keywords (length
    bounds are still enforced by the token cap and the recipe's filters)."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items() if k not in ("minLength", "maxLength")}
    if out.get("type") == "object":
        out["required"] = sorted(out.get("properties", {}))
        out["additionalProperties"] = False
    return out
