"""A JSON object under the closed schema of every declared field (guidance's `json(schema=...)`).

The schema is closed and bounded because tiny models otherwise invent keys or ramble until the
context is full (runtime.md gotcha 2). Its whitespace is fixed (`", "` between items, `": "` after
keys, nothing else): the bytes a build writes depend on it, so it never changes silently."""

from __future__ import annotations

import functools
import json as _json
import random
from typing import TYPE_CHECKING, Any

from synthc.runtime.backends.base import Constraint
from synthc.runtime.backends.constraints.base import ConstraintKind, Read
from synthc.runtime.backends.constraints.fakes import from_schema
from synthc.runtime.backends.constraints.guide import guidance
from synthc.runtime.backends.constraints.select import show

if TYPE_CHECKING:
    from synthc.compiler import ir
    from synthc.runtime.backends.dialects.base import Dialect

__all__ = ["Json", "json_schema", "SEPARATORS"]

SEPARATORS = (", ", ": ")  # between items, after keys


class Json(ConstraintKind):
    name = "json"
    probe_tokens = 256
    fix = ("check the `dialect`, or upgrade the server; a small model without enforcement often returns "
           "invalid JSON, which the build drops row by row")

    def ask(self, c: Constraint) -> str:
        return "Answer in JSON with the fields asked for."

    def build(self, output: ir.Output, labels: tuple[str, ...]) -> Constraint:
        return Constraint(kind="json", schema=_json.dumps(json_schema(output, labels), sort_keys=True))

    def grammar(self, c: Constraint) -> Any:
        return guidance().json(schema=_json.loads(c.schema), separators=SEPARATORS, whitespace_flexible=False)

    def violation(self, c: Constraint, text: str, schema: dict[str, Any] | None) -> str | None:
        try:
            value = _json.loads(text)
        except ValueError as exc:
            return f"not JSON ({exc}): {show(text)}"
        return _schema_error(_json.dumps(schema if schema is not None else _json.loads(c.schema), sort_keys=True),
                             value)

    def sample(self, c: Constraint, rng: random.Random, vocab: list[str], max_tokens: int) -> tuple[str, str]:
        text = _json.dumps(from_schema(_json.loads(c.schema), rng, vocab), ensure_ascii=False)
        words = text.split()  # a token is a word to the fake backend
        if len(words) > max_tokens:  # cut mid-object, as a real model is
            return " ".join(words[:max_tokens]), "length"
        return text, "stop"

    def send(self, dialect: Dialect, c: Constraint, mode: str, body: dict[str, Any]) -> str:
        return dialect.json(_json.loads(c.schema), mode, body)

    def read(self, output: ir.Output, text: str, cap: int | None) -> Read | None:
        try:
            obj = _json.loads(text)
        except _json.JSONDecodeError as exc:
            obj, error = None, str(exc)
        else:
            error = f"a JSON {type(obj).__name__}, not an object"
        if isinstance(obj, dict):
            return Read(obj)
        return Read(None, "invalid json", error)


def json_schema(output: ir.Output, labels: tuple[str, ...]) -> dict[str, Any]:
    """JSON schema of the declared output: closed objects and bounded fields."""
    return _object(output.fields, labels)


def _object(fields: tuple[ir.OutputField, ...], labels: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "object", "properties": {f.name: _field(f, labels) for f in fields},
            "required": [f.name for f in fields], "additionalProperties": False}


def _field(f: ir.OutputField, labels: tuple[str, ...]) -> dict[str, Any]:
    args = dict(f.args)
    if f.type == "object":
        return _object(f.fields, labels)
    if f.type == "label":
        return {"type": "string", "enum": list(labels)}
    if f.type == "choice":
        return {"type": "string", "enum": list(args["options"])}
    if f.type == "bool":
        return {"type": "boolean"}
    if f.type in ("int", "float"):
        out: dict[str, Any] = {"type": "integer" if f.type == "int" else "number"}
        if "range" in args:
            out["minimum"], out["maximum"] = args["range"]
        return out
    if f.type == "regex":
        return {"type": "string", "pattern": args["pattern"]}
    if f.type == "list":
        item = args["of"]
        return {"type": "array", "items": _field(item, labels), "maxItems": args.get("max", 5)}
    out = {"type": "string", "maxLength": _max_chars(args)}
    if "chars" in args:
        out["minLength"] = args["chars"][0]
    return out


def _max_chars(args: dict[str, Any]) -> int:
    if "chars" in args:
        return int(args["chars"][1])
    if "words" in args:
        return int(args["words"][1]) * 8
    return 1000


@functools.lru_cache(maxsize=64)
def _validator(schema: str) -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(_json.loads(schema))


def _schema_error(schema: str, value: Any) -> str | None:
    error = next(iter(_validator(schema).iter_errors(value)), None)
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"breaks the JSON schema at `{where or '(top)'}`: {error.message[:160]}"
