"""Free text: no grammar, cut at stops and the token cap; the `parse` block's rules read it."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from synthc.runtime.backends.base import Constraint
from synthc.runtime.backends.constraints.base import ConstraintKind
from synthc.runtime.backends.constraints.fakes import sentence

if TYPE_CHECKING:
    from synthc.compiler import ir

__all__ = ["Text"]


class Text(ConstraintKind):
    name = "text"
    stops = True

    def build(self, output: ir.Output, labels: tuple[str, ...]) -> Constraint:
        return Constraint()

    def sample(self, c: Constraint, rng: random.Random, vocab: list[str], max_tokens: int) -> tuple[str, str]:
        wanted = 8 + rng.randrange(40)  # words the row would have, uncapped
        text = sentence(rng, vocab, min(max_tokens, wanted))
        return text, "length" if wanted >= max_tokens else "stop"  # the cap, not the sentence, ended it
