"""The shape every server dialect fills in: a `Dialect` turns one request into one `Wire` (path,
JSON body, how to unwrap the text) and reads the answer back; it says how it expresses each
constraint kind, what the server tells about itself (identity, prompt-cache slots, context),
where its tokenizer is and which fields pin a request to a slot. The defaults are the plain
OpenAI-compatible API; each dialect module overrides only what its server does differently.
The constraint cells it implements are exactly its compiler spec's (compiler/dialects.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from synthc.compiler.dialects import DialectSpec
from synthc.runtime.backends.base import Request
from synthc.runtime.backends.constraints import kind

__all__ = ["Wire", "Answer", "Facts", "Malformed", "Unsupported", "Dialect", "Get", "Post", "response_format"]

Get = Callable[[str], Any]  # GET a path under the server root: decoded JSON, or None when unavailable
Post = Callable[[str, dict[str, Any]], Any]  # POST a body to a path under the server root


class Unsupported(ValueError):
    """A constraint the dialect cannot express (the compiler reports these as E315 first)."""


class Malformed(ValueError):
    """The server answered 200 with something that is not a completion of the request."""


@dataclass(frozen=True, slots=True)
class Wire:
    path: str  # "/chat/completions" | "/completions"
    body: dict[str, Any]
    unwrap: str = ""  # "" text as is | "string" a JSON string | "value" a JSON object's `value` member
    dialect: str = "openai"  # who built it: `read` asks that dialect how to count usage


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    finish: str  # stop | length
    prompt_tokens: int
    completion_tokens: int
    logprob: float | None
    evaluated_tokens: int  # prompt tokens the server evaluated (the rest came from its prompt cache)


@dataclass(frozen=True, slots=True)
class Facts:
    """What a server reports about itself beyond /v1/models."""

    identity: dict[str, Any] = field(default_factory=dict)  # merged into the fingerprint's identity
    slots: int = 0  # prompt-cache slots a request can be pinned to (0: the server pins nothing)
    context: int | None = None  # tokens per slot, where the server says


class Dialect:
    spec: ClassVar[DialectSpec]
    max_stops: ClassVar[int | None] = None  # stop strings the server takes (None: all)
    logprobs: ClassVar[bool] = False  # the server returns per-token log-probabilities on request
    # A final assistant message starts a new turn unless the request says to continue it
    # (`continue_final_message`, vLLM and SGLang); llama.cpp's server and Ollama continue it as it is.
    continue_final: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return self.spec.name

    # -- requests ------------------------------------------------------------------------------
    def build(self, model_id: str, request: Request) -> Wire:
        c = request.constraint
        if c.kind not in self.spec.constrains(request.mode):
            raise Unsupported(f"the {self.name} dialect cannot constrain {request.mode} output to {c.kind}")
        body: dict[str, Any] = {
            "model": model_id, "max_tokens": request.max_tokens, "temperature": request.temperature,
            "top_p": request.top_p, "seed": request.seed,
        }
        # The backend cuts at every stop afterwards anyway, whatever the server honours.
        stops = list(request.stop if self.max_stops is None else request.stop[: self.max_stops])
        if stops:
            body["stop"] = stops
        if request.mode == "chat":
            path = "/chat/completions"
            body["messages"] = [{"role": role, "content": content} for role, content in request.messages]
            if request.prefill:
                self.prefill(request.prefill, body)
        else:
            path = "/completions"
            body["prompt"] = request.messages[0][1] + request.prefill
        if self.logprobs:  # mean log-probability of the sampled tokens
            body["logprobs"] = True if request.mode == "chat" else 1
        unwrap = self.constrain(request, body)
        # The JSON wrapping is ours, not the recipe's: its quotes and braces do not count against the cap.
        body["max_tokens"] += {"": 0, "string": 2, "value": 8}[unwrap]
        return Wire(path, body, unwrap, self.name)

    def prefill(self, text: str, body: dict[str, Any]) -> None:
        """Start the answer with `text` for the model to continue: a final assistant message
        (compiler/dialects.py: `prefill`; `continue_final`)."""
        if not self.spec.prefill:  # the compiler reports it first (E317)
            raise Unsupported(f"the {self.name} dialect cannot continue a prefilled answer")
        body["messages"].append({"role": "assistant", "content": text})
        if self.continue_final:
            body["continue_final_message"], body["add_generation_prompt"] = True, False

    def constrain(self, request: Request, body: dict[str, Any]) -> str:
        """Put the request's constraint into `body`; the unwrap mode of the answer. Each kind says
        which of the hooks below carries it (a template travels as its regex)."""
        return kind(request.constraint).send(self, request.constraint, request.mode, body)

    # Plain OpenAI APIs: a JSON schema on the chat endpoint only, and the top level must be an
    # object, so a choice travels as {"value": one-of-options} and is unwrapped.
    def select(self, options: list[str], mode: str, body: dict[str, Any]) -> str:
        body["response_format"] = response_format({
            "type": "object", "properties": {"value": {"type": "string", "enum": options}},
            "required": ["value"], "additionalProperties": False})
        return "value"

    def regex(self, pattern: str, mode: str, body: dict[str, Any]) -> str:
        raise Unsupported(f"the {self.name} dialect cannot constrain output to a regular expression")

    def json(self, schema: dict[str, Any], mode: str, body: dict[str, Any]) -> str:
        body["response_format"] = response_format(schema)
        return ""

    def enforced(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The JSON schema the server is asked to enforce (what answers are checked against)."""
        return schema

    def pin(self, body: dict[str, Any], slot: int) -> None:
        """Send the request to prompt-cache slot `slot` (only called when `probe` reported slots)."""

    # -- answers -------------------------------------------------------------------------------
    def read(self, wire: Wire, data: Any, stops: tuple[str, ...]) -> Answer:
        """The completion in a 200 answer; Malformed when it is not one."""
        try:
            choice = data["choices"][0]
            raw = choice["message"]["content"] if wire.path == "/chat/completions" else choice["text"]
            if not isinstance(raw, str):
                raise TypeError(f"content is {type(raw).__name__}")
            usage = data.get("usage") or {}
            prompt_tokens, completion_tokens = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
            evaluated = self.evaluated(data, prompt_tokens)
            finish = "length" if choice.get("finish_reason") == "length" else "stop"
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise Malformed(f"not an OpenAI-style completion ({type(exc).__name__}: {exc})") from None
        text = _unwrap(raw, wire.unwrap)
        for stop in stops:  # servers differ on how many stops they honour; cut at every one
            if stop and stop in text:
                text = text[: text.index(stop)]
        return Answer(text, finish, prompt_tokens, completion_tokens, _mean_logprob(choice.get("logprobs")), evaluated)

    def evaluated(self, data: dict[str, Any], prompt_tokens: int) -> int:
        """Prompt tokens the server evaluated: OpenAI's `usage.prompt_tokens_details.cached_tokens`
        are the ones it did not."""
        details = (data.get("usage") or {}).get("prompt_tokens_details") or {}
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        return max(0, prompt_tokens - int(cached)) if isinstance(cached, int) else prompt_tokens

    # -- the server ------------------------------------------------------------------------------
    def probe(self, get: Get) -> Facts:
        """What the server reports about itself beyond /v1/models."""
        return Facts()

    def tokenize(self, post: Post, model_id: str, text: str) -> list[int] | None:
        """The server's token ids of `text`; None where the server has no tokenizer endpoint."""
        return None

    def detokenize(self, post: Post, model_id: str, ids: list[int]) -> str:
        raise Unsupported(f"the {self.name} dialect has no detokenizer")

    def template(self, post: Post, messages: list[dict[str, str]]) -> str | None:
        """The chat prompt as the server renders it, where it can tell."""
        return None


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": True}}


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
