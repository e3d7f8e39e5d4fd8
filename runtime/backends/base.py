"""The backend interface: requests in, completions out, deterministic for a given seed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, Sequence

__all__ = ["Slot", "Constraint", "Request", "Completion", "Backend", "ContextOverflow", "kv_bytes",
           "PREVIEW", "NOT_GENERATED", "would_generate"]


@dataclass(frozen=True, slots=True)
class Slot:
    """One piece of a `template` constraint: fixed `text`, or output field `name` of `type`
    generated as `options` (label, choice, bool) or else as `pattern`; `bounds`: an int/float
    field's range, a string field's characters (the fake backend samples within them)."""

    text: str = ""
    name: str = ""
    type: str = ""
    options: tuple[str, ...] = ()
    pattern: str = ""
    bounds: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class Constraint:
    """What the model may produce: free `text` (stops + token cap), a `select` among options,
    a `regex`, a `json` object following `schema` (a JSON-schema dict, serialised), or a
    `template` of fixed text and fields (`slots`; `pattern` is the whole template as one regex).
    The kinds are registered in runtime/backends/constraints/."""

    kind: str = "text"  # a registered kind: text | select | regex | json | template
    options: tuple[str, ...] = ()
    pattern: str = ""
    schema: str = ""  # JSON text of the schema (kept as text so requests stay hashable)
    # Left out of repr and, while empty, of `Request.data`: the constraints of every other kind
    # keep the cache keys and fake answers they had before templates existed.
    slots: tuple[Slot, ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class Request:
    """One generation. `messages` are (role, content) pairs for chat mode; completion mode has a
    single ("text", prompt). `shared` = how many leading messages every request of the same node
    shares (the canonical KV-cache prefix)."""

    messages: tuple[tuple[str, str], ...]
    mode: str  # chat | completion
    constraint: Constraint
    max_tokens: int
    temperature: float
    top_p: float
    stop: tuple[str, ...]
    seed: int
    shared: int = 0
    prefill: str = ""  # the answer's start, which the model continues (parse.prefill); not in its text
    # Texts the output must not copy a span of `avoid_words` words from (the row's demos, under a
    # `near_copy` filter); the llama backend guards its decoding (copy_guard.py), others leave it
    # to the filter.
    avoid: tuple[str, ...] = field(default=(), repr=False)
    avoid_words: int = 0
    no_repeat: int = 0  # tokens of a span the output may not hold twice (model.no_repeat_ngram); 0: no rule
    wrap_up: int = 0  # output tokens after which a sentence end is favoured more each step (model.wrap_up); 0: none
    # Output tokens before which free text may not end (end-of-text/turn banned): the output's lower
    # word bound, since a word is at least one token; 0: none. The llama backend applies it.
    min_tokens: int = 0

    def data(self) -> dict[str, Any]:
        out = asdict(self)
        if not self.constraint.slots:
            del out["constraint"]["slots"]
        if not self.prefill:  # keys of requests without one stay what they were
            del out["prefill"]
        if not self.avoid:
            del out["avoid"], out["avoid_words"]
        if not self.no_repeat:
            del out["no_repeat"]
        if not self.wrap_up:
            del out["wrap_up"]
        if not self.min_tokens:
            del out["min_tokens"]
        return out


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    prompt_tokens: int  # tokens in the prompt
    completion_tokens: int
    evaluated_tokens: int  # prompt tokens actually evaluated (the rest came from the KV cache)
    finish: str = "stop"  # stop | length
    extra: dict[str, Any] = field(default_factory=dict)
    # Mean log-probability per generated token under the generating model (None where the backend
    # cannot report it): the fluency signal filters may threshold on.
    logprob: float | None = None


# A preview (`synthc plan --tokens`, `show`, `diff`: runtime/engine/dispatch.py CacheOnlyDispatcher)
# answers a request the cache does not hold with a Completion whose `finish` is PREVIEW and whose
# text is NOT_GENERATED: the scheduler goes on with it, a later conversation turn carries it as the
# earlier answer and a `once` value's readers as the value, so their requests are never found in
# the cache either. Private-use characters: no model output is this text.
PREVIEW = "preview"
NOT_GENERATED = "\ue000not generated yet\ue000"


def would_generate(completion: Completion) -> bool:
    """A preview's stand-in for a completion a build would generate."""
    return completion.finish == PREVIEW


class ContextOverflow(Exception):
    """Raised by a backend before generating when prompt + max_tokens exceed its context."""

    def __init__(self, prompt: int, max_tokens: int, context: int) -> None:
        super().__init__(f"a prompt of {prompt} tokens + max_tokens {max_tokens} exceeds the context of {context}")
        self.prompt, self.max_tokens, self.context = prompt, max_tokens, context


class Backend(Protocol):
    """A model the scheduler drives. `generate_batch` is the unit of work: the scheduler hands it a
    group of at most `capacity()` requests (a pure function of the plan) and commits the group's
    results to the cache as one. A backend answers with one Completion per request, in order, or
    raises for the whole group, and a request's completion must not depend on the other requests
    decoded beside it (the llama backend's decoding is batch-invariant: llama_loop.py)."""

    name: str

    def fingerprint(self) -> str:
        """Identity of the model for cache keys (file sha256 and backend kind)."""
        ...

    def capacity(self) -> int:
        """How many requests one `generate_batch` call may take (batch width, server slots)."""
        ...

    def generate(self, request: Request) -> Completion:
        ...

    def generate_batch(self, requests: Sequence[Request]) -> list[Completion]:
        ...

    def count_tokens(self, text: str) -> int:
        ...

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` that is at most `max_tokens` tokens."""
        ...

    def render(self, request: Request) -> str:
        """The exact prompt text the model sees (chat template applied)."""
        ...


def kv_bytes(backend: object) -> int:
    """Bytes of KV cache a backend holds in this process now (the llama backend's streams; 0 for
    the fake backend and for a model served elsewhere): a fact of the run, for the progress
    display and .synthc/last-build.json, never for the byte-stable manifest."""
    measure = getattr(backend, "kv_bytes", None)
    return int(measure()) if callable(measure) else 0
