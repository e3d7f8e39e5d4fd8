"""Local check of a constrained answer from a server: whatever the server claims to enforce, a
choice must be one of the options, a regex output must match the whole pattern, and a JSON answer
must decode and follow the schema the dialect sent. A server that ignores a field (an old vLLM
reading `guided_*` only, a proxy that drops unknown fields, a dialect set wrong) otherwise hands
the parse step output the recipe's types say cannot happen (postprocess.py trusts select and regex
outputs to be complete by construction)."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from synthc.runtime.backends.base import Constraint

__all__ = ["violation"]


def violation(constraint: Constraint, text: str, schema: dict[str, Any] | None = None) -> str | None:
    """Why `text` breaks `constraint` (None when it keeps it). `schema`: the JSON schema as the
    dialect sent it (a strict-mode API is sent a loosened one), default the constraint's own."""
    if constraint.kind == "select":
        return None if text in constraint.options else f"{_show(text)} is none of {', '.join(constraint.options)}"
    if constraint.kind == "regex":
        compiled = _regex(constraint.pattern)
        if compiled is None or compiled.fullmatch(text):  # a pattern Python cannot read: nothing to check against
            return None
        return f"{_show(text)} does not match /{constraint.pattern}/"
    if constraint.kind == "json":
        try:
            value = json.loads(text)
        except ValueError as exc:
            return f"not JSON ({exc}): {_show(text)}"
        return _schema_error(json.dumps(schema if schema is not None else json.loads(constraint.schema),
                                        sort_keys=True), value)
    return None


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


@functools.lru_cache(maxsize=64)
def _validator(schema: str) -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(schema))


def _schema_error(schema: str, value: Any) -> str | None:
    error = next(iter(_validator(schema).iter_errors(value)), None)
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"breaks the JSON schema at `{where or '(top)'}`: {error.message[:160]}"


def _show(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")
