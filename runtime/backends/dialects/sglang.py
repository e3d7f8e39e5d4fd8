"""SGLang: a choice or a regex in `regex`, a JSON schema in `response_format` (chat) or
`json_schema` (completion). Its radix cache shares prefixes across all requests: nothing pinned."""

from __future__ import annotations

import json as _json
import re
from typing import Any

from synthc.compiler.dialects import get
from synthc.runtime.backends.dialects.base import Dialect, response_format

__all__ = ["Sglang"]


class Sglang(Dialect):
    spec = get("sglang")
    continue_final = True

    def select(self, options: list[str], mode: str, body: dict[str, Any]) -> str:
        body["regex"] = "(" + "|".join(re.escape(o) for o in options) + ")"
        return ""

    def regex(self, pattern: str, mode: str, body: dict[str, Any]) -> str:
        body["regex"] = pattern
        return ""

    def json(self, schema: dict[str, Any], mode: str, body: dict[str, Any]) -> str:
        if mode == "chat":
            body["response_format"] = response_format(schema)
        else:
            body["json_schema"] = _json.dumps(schema)
        return ""
