"""One field matching a regular expression as a whole (guidance's `gen(regex=...)`)."""

from __future__ import annotations

import functools
import random
import re
from typing import TYPE_CHECKING, Any

from synthc.runtime.backends.base import Constraint
from synthc.runtime.backends.constraints.base import ConstraintKind, Read
from synthc.runtime.backends.constraints.fakes import regex_sample
from synthc.runtime.backends.constraints.guide import guidance
from synthc.runtime.backends.constraints.select import show

if TYPE_CHECKING:
    from synthc.compiler import ir
    from synthc.runtime.backends.dialects.base import Dialect

__all__ = ["Regex", "compiled"]


class Regex(ConstraintKind):
    name = "regex"
    fix = ("check the `dialect` (vLLM >= 0.10.2 reads `structured_outputs`; `guided_*` is gone in 0.12), "
           "or use a server that enforces regexes (llama_cpp, vllm, sglang)")

    def ask(self, c: Constraint) -> str:
        return "Write one value."

    def build(self, output: ir.Output, labels: tuple[str, ...]) -> Constraint:
        return Constraint(kind="regex", pattern=dict(output.fields[0].args)["pattern"])

    def grammar(self, c: Constraint) -> Any:
        return guidance().gen(regex=c.pattern)

    def violation(self, c: Constraint, text: str, schema: dict[str, Any] | None) -> str | None:
        rx = compiled(c.pattern)
        if rx is None or rx.fullmatch(text):  # a pattern Python cannot read: nothing to check against
            return None
        return f"{show(text)} does not match /{c.pattern}/"

    def sample(self, c: Constraint, rng: random.Random, vocab: list[str], max_tokens: int) -> tuple[str, str]:
        return regex_sample(c.pattern, rng), "stop"

    def send(self, dialect: Dialect, c: Constraint, mode: str, body: dict[str, Any]) -> str:
        return dialect.regex(c.pattern, mode, body)

    def read(self, output: ir.Output, text: str, cap: int | None) -> Read | None:
        return Read({output.fields[0].name: text}) if text else Read(None, "empty")


@functools.lru_cache(maxsize=256)
def compiled(pattern: str) -> re.Pattern[str] | None:
    """`pattern` compiled by Python's `re`, None where Python cannot read it (a server's syntax)."""
    try:
        return re.compile(pattern)
    except re.error:
        return None
