"""What each server dialect expects on the wire, and how to read its answer.

One request becomes one `Wire` (the path under the endpoint, the JSON body, how to unwrap the
text). Everything that differs between llama.cpp's server, vLLM, SGLang, Ollama and plain
OpenAI-compatible APIs lives here; compiler/endpoints.py's SUPPORTED table says which constraint
each can enforce, and `build` implements exactly those cells (a test walks the table).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from synthc.compiler.endpoints import SUPPORTED
from synthc.runtime.backends.base import Request

__all__ = ["Wire", "Answer", "Malformed", "build", "read", "Unsupported"]


class Unsupported(ValueError):
    """A constraint the dialect cannot express (the compiler reports these as E315 first)."""


class Malformed(ValueError):
    """The server answered 200 with something that is not a completion of the request."""


@dataclass(frozen=True, slots=True)
class Wire:
    path: str  # "/chat/completions" | "/completions"
    body: dict[str, Any]
    unwrap: str = ""  # "" text as is | "string" a JSON string | "value" a JSON object's `value` member


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    finish: str  # stop | length
    prompt_tokens: int
    completion_tokens: int
    logprob: float | None


def build(dialect: str, model_id: str, request: Request) -> Wire:
    c = request.constraint
    if c.kind not in SUPPORTED[dialect][request.mode]:
        raise Unsupported(f"the {dialect} dialect cannot constrain {request.mode} output to {c.kind}")
    body: dict[str, Any] = {
        "model": model_id, "max_tokens": request.max_tokens, "temperature": request.temperature,
        "top_p": request.top_p, "seed": request.seed,
    }
    # Plain OpenAI APIs take at most 4 stop strings; the backend cuts at every stop afterwards anyway.
    stops = list(request.stop[:4] if dialect == "openai" else request.stop)
    if stops:
        body["stop"] = stops
    if request.mode == "chat":
        path = "/chat/completions"
        body["messages"] = [{"role": role, "content": content} for role, content in request.messages]
    else:
        path = "/completions"
        body["prompt"] = request.messages[0][1]
    if dialect in ("llama_cpp", "vllm"):  # mean log-probability of the sampled tokens
        body["logprobs"] = True if request.mode == "chat" else 1
    unwrap = _constrain(dialect, request, body)
    # The JSON wrapping is ours, not the recipe's: its quotes and braces do not count against the cap.
    body["max_tokens"] += {"": 0, "string": 2, "value": 8}[unwrap]
    return Wire(path, body, unwrap)


def _constrain(dialect: str, request: Request, body: dict[str, Any]) -> str:
    c = request.constraint
    if c.kind == "text":
        return ""
    schema: dict[str, Any] = json.loads(c.schema) if c.kind == "json" else {}
    anchored = f"^({c.pattern})$"
    if dialect == "llama_cpp":
        # llama.cpp turns a JSON schema into a GBNF grammar, top-level strings and enums included.
        if c.kind == "select":
            body["json_schema"] = {"enum": list(c.options)}
            return "string"
        if c.kind == "regex":
            body["json_schema"] = {"type": "string", "pattern": anchored}
            return "string"
        body["json_schema"] = schema
        return ""
    if dialect == "vllm":  # vLLM >= 0.10.2 (`guided_*` fields were removed in 0.12)
        key = {"select": "choice", "regex": "regex", "json": "json"}[c.kind]
        value: Any = list(c.options) if c.kind == "select" else c.pattern if c.kind == "regex" else schema
        body["structured_outputs"] = {key: value}
        return ""
    if dialect == "sglang":
        if c.kind == "select":
            body["regex"] = "(" + "|".join(re.escape(o) for o in c.options) + ")"
        elif c.kind == "regex":
            body["regex"] = c.pattern
        elif request.mode == "chat":
            body["response_format"] = _response_format(schema)
        else:
            body["json_schema"] = json.dumps(schema)
        return ""
    # ollama, openai: a JSON schema on the chat endpoint only; the top level must be an object,
    # so a choice travels as {"value": one-of-options} and is unwrapped.
    if c.kind == "select":
        body["response_format"] = _response_format({
            "type": "object", "properties": {"value": {"type": "string", "enum": list(c.options)}},
            "required": ["value"], "additionalProperties": False})
        return "value"
    body["response_format"] = _response_format(_strict(schema) if dialect == "openai" else schema)
    return ""


def _response_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": True}}


def _strict(schema: Any) -> Any:
    """OpenAI's strict mode: every property required, no extra ones, no length keywords (length
    bounds are still enforced by the token cap and the recipe's filters)."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items() if k not in ("minLength", "maxLength")}
    if out.get("type") == "object":
        out["required"] = sorted(out.get("properties", {}))
        out["additionalProperties"] = False
    return out


def read(wire: Wire, data: Any, stops: tuple[str, ...]) -> Answer:
    """The completion in a 200 answer; Malformed when it is not one."""
    try:
        choice = data["choices"][0]
        raw = choice["message"]["content"] if wire.path == "/chat/completions" else choice["text"]
        if not isinstance(raw, str):
            raise TypeError(f"content is {type(raw).__name__}")
        usage = data.get("usage") or {}
        prompt_tokens, completion_tokens = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise Malformed(f"not an OpenAI-style completion ({type(exc).__name__}: {exc})") from None
    text = _unwrap(raw, wire.unwrap)
    for stop in stops:  # servers differ on how many stops they honour; cut at every one
        if stop and stop in text:
            text = text[: text.index(stop)]
    return Answer(text, finish, prompt_tokens, completion_tokens, _mean_logprob(choice.get("logprobs")))


def _unwrap(raw: str, how: str) -> str:
    if not how:
        return raw
    try:
        value = json.loads(raw)
        if how == "value":
            value = value["value"]
    except (ValueError, KeyError, TypeError):
        raise Malformed(f"constrained output is not the expected JSON: {raw[:80]!r}") from None
    if not isinstance(value, str):
        raise Malformed(f"constrained output is not a string: {raw[:80]!r}")
    return value


def _mean_logprob(lp: Any) -> float | None:
    """Chat answers carry `content: [{logprob}]`, completion answers `token_logprobs: [..]`."""
    if not isinstance(lp, dict):
        return None
    values = [t.get("logprob") for t in lp.get("content") or [] if isinstance(t, dict)]
    values = values or list(lp.get("token_logprobs") or [])
    values = [v for v in values if isinstance(v, (int, float))]
    return sum(values) / len(values) if values else None
