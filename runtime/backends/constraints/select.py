"""A choice among fixed options (a label, a `choice([...])`), decoded greedily as guidance's
`select` is: the most likely option under the prompt, whatever the temperature."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from synthc.runtime.backends.base import Constraint
from synthc.runtime.backends.constraints.base import ConstraintKind, Read
from synthc.runtime.backends.constraints.guide import guidance

if TYPE_CHECKING:
    from synthc.compiler import ir
    from synthc.runtime.backends.dialects.base import Dialect

__all__ = ["Select", "show"]


class Select(ConstraintKind):
    name = "select"
    greedy = True

    def ask(self, c: Constraint) -> str:
        return f"Answer with one of: {', '.join(c.options[:12])}."

    def build(self, output: ir.Output, labels: tuple[str, ...]) -> Constraint:
        f = output.fields[0]
        return Constraint(kind="select", options=labels if f.type == "label" else tuple(dict(f.args)["options"]))

    def grammar(self, c: Constraint) -> Any:
        return guidance().select(list(c.options))

    def violation(self, c: Constraint, text: str, schema: dict[str, Any] | None) -> str | None:
        return None if text in c.options else f"{show(text)} is none of {', '.join(c.options)}"

    def sample(self, c: Constraint, rng: random.Random, vocab: list[str], max_tokens: int) -> tuple[str, str]:
        return rng.choice(c.options), "stop"

    def send(self, dialect: Dialect, c: Constraint, mode: str, body: dict[str, Any]) -> str:
        return dialect.select(list(c.options), mode, body)

    def read(self, output: ir.Output, text: str, cap: int | None) -> Read | None:
        return Read({output.fields[0].name: text}) if text else Read(None, "empty")


def show(text: str) -> str:
    """An answer quoted in a message, cut to 60 characters."""
    return repr(text if len(text) <= 60 else text[:57] + "...")
