"""A deterministic stand-in model: output is a function of the request and its seed only.

It honours every constraint (select, regex for simple patterns, JSON schemas, token caps), and
writes text from the prompt's own vocabulary so that label words and filters behave plausibly.
Free text is a sentence of 8..47 words (a token is a word here), cut at `max_tokens`; a row the
cap ended (it would have had max_tokens words or more), or a JSON object longer than the cap
(cut there), reports finish "length", as a real backend does.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import time
from typing import Any, Sequence

from synthc.runtime.backends.base import Completion, ContextOverflow, Request

__all__ = ["FakeBackend"]

_WORDS = re.compile(r"[A-Za-z']+")


class FakeBackend:
    name = "fake"

    def __init__(self, context: int = 1 << 30) -> None:
        self.context = context  # tokens are whitespace words here

    def fingerprint(self) -> str:
        return "fake-v2"  # v2: a row cut at max_tokens says finish "length"

    def capacity(self) -> int:
        return int(os.environ.get("SYNTHC_FAKE_CAPACITY", "8"))

    def generate_batch(self, requests: Sequence[Request]) -> list[Completion]:
        # Each output depends on its own request only, as a real batched backend's should (up to
        # floating point, which the fake does not have).
        return [self.generate(r) for r in requests]

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def truncate(self, text: str, max_tokens: int) -> str:
        return " ".join(text.split()[:max_tokens])

    def render(self, request: Request) -> str:
        return "\n".join(f"<{role}>\n{content}" for role, content in request.messages)

    def generate(self, request: Request) -> Completion:
        delay = float(os.environ.get("SYNTHC_FAKE_DELAY", "0"))  # lets tests kill a build mid-way
        if delay:
            time.sleep(delay)
        prompt = self.render(request)
        if self.count_tokens(prompt) + request.max_tokens > self.context:
            raise ContextOverflow(self.count_tokens(prompt), request.max_tokens, self.context)
        digest = hashlib.sha256(f"{request.seed}\x00{prompt}\x00{request.constraint}".encode()).digest()
        rng = random.Random(digest)
        c = request.constraint
        finish = "stop"
        if c.kind == "select":
            text = rng.choice(c.options)
        elif c.kind == "regex":
            text = _regex_sample(c.pattern, rng)
        elif c.kind == "json":
            text = json.dumps(_from_schema(json.loads(c.schema), rng, _vocab(prompt)), ensure_ascii=False)
            if self.count_tokens(text) > request.max_tokens:  # cut mid-object, as a real model is
                text, finish = self.truncate(text, request.max_tokens), "length"
        else:
            wanted = 8 + rng.randrange(40)  # words the row would have, uncapped
            text = _sentence(rng, _vocab(prompt), min(request.max_tokens, wanted))
            if wanted >= request.max_tokens:  # the cap, not the sentence, ended it
                finish = "length"
            for stop in request.stop:
                if stop and stop in text:  # a stop string comes before the cap
                    text, finish = text[: text.index(stop)], "stop"
        n_prompt = self.count_tokens(prompt)
        return Completion(text, n_prompt, self.count_tokens(text), n_prompt, finish)


def _vocab(prompt: str) -> list[str]:
    words = [w.lower() for w in _WORDS.findall(prompt) if len(w) > 2]
    return words or ["lorem", "ipsum", "dolor"]


def _sentence(rng: random.Random, vocab: list[str], n: int) -> str:
    words = [rng.choice(vocab) for _ in range(n)]
    return (" ".join(words)).capitalize() + "."


def _regex_sample(pattern: str, rng: random.Random) -> str:
    # Enough for the simple patterns recipes use (digits, letters, short alternations).
    for candidate in [str(rng.randrange(10)), str(rng.randrange(100)), "a", "A", "yes", "no", "x1"]:
        if re.fullmatch(pattern, candidate):
            return candidate
    m = re.fullmatch(r"\(?([^()|]+(\|[^()|]+)+)\)?", pattern)
    if m:
        return rng.choice(m.group(1).split("|"))
    raise ValueError(f"the fake backend cannot sample regex {pattern!r}")


def _from_schema(schema: dict[str, Any], rng: random.Random, vocab: list[str]) -> Any:
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        return {k: _from_schema(v, rng, vocab) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        n = rng.randrange(1, max(2, schema.get("maxItems", 3) + 1))
        return [_from_schema(schema["items"], rng, vocab) for _ in range(n)]
    if kind == "integer":
        return rng.randint(schema.get("minimum", 0), schema.get("maximum", 100))
    if kind == "number":
        return round(rng.uniform(schema.get("minimum", 0.0), schema.get("maximum", 1.0)), 3)
    if kind == "boolean":
        return rng.random() < 0.5
    if "pattern" in schema:
        return _regex_sample(schema["pattern"], rng)
    limit = schema.get("maxLength", 200)
    return _sentence(rng, vocab, 4 + rng.randrange(12))[:limit]
