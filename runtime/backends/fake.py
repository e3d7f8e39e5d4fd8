"""A deterministic stand-in model: output is a function of the request and its seed only.

It honours every constraint (select, regex for simple patterns, JSON schemas, templates, token
caps: each kind's `sample`, runtime/backends/constraints/), and
writes text from the prompt's own vocabulary so that label words and filters behave plausibly.
Free text is a sentence of 8..47 words (a token is a word here), cut at `max_tokens`; a row the
cap ended (it would have had max_tokens words or more), or a JSON object longer than the cap
(cut there), reports finish "length", as a real backend does.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import time
from typing import Sequence

from synthc.runtime.backends.base import Completion, ContextOverflow, Request
from synthc.runtime.backends.constraints import kind

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
        text, finish = kind(request.constraint).sample(request.constraint, rng, _vocab(prompt), request.max_tokens)
        if kind(request.constraint).stops:
            for stop in request.stop:
                if stop and stop in text:  # a stop string comes before the cap
                    text, finish = text[: text.index(stop)], "stop"
        n_prompt = self.count_tokens(prompt)
        return Completion(text, n_prompt, self.count_tokens(text), n_prompt, finish)


def _vocab(prompt: str) -> list[str]:
    words = [w.lower() for w in _WORDS.findall(prompt) if len(w) > 2]
    return words or ["lorem", "ipsum", "dolor"]
