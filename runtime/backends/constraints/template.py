"""Fixed text and several constrained fields in one generation (compiler/outputs/template.py has
the language side). The grammar is guidance's join of the fixed text with a named `select` per
option field and a named `gen(regex=...)` per other field; a server is sent the whole template as
one regex; an answer is checked against, and parsed by, the same regex with a group per field."""

from __future__ import annotations

import functools
import random
import re
from typing import TYPE_CHECKING, Any

from synthc.compiler.outputs.template import escape, field_pattern, pattern, string_chars
from synthc.runtime.backends.base import Constraint, Slot
from synthc.runtime.backends.constraints.base import ConstraintKind, Read
from synthc.runtime.backends.constraints.fakes import regex_sample, sentence
from synthc.runtime.backends.constraints.guide import guidance
from synthc.runtime.backends.constraints.regex import compiled
from synthc.runtime.backends.constraints.select import show

if TYPE_CHECKING:
    from synthc.compiler import ir
    from synthc.runtime.backends.dialects.base import Dialect

__all__ = ["Template"]

_OPTIONS = ("label", "choice", "bool")  # fields generated as a `select` among options


class Template(ConstraintKind):
    name = "template"
    probe_tokens = 128
    fix = "check the `dialect`: a template is sent as a regex (llama_cpp, vllm, sglang enforce one)"

    def ask(self, c: Constraint) -> str:
        return "Fill in, one value per place:\n" + "".join(s.text or f"<{s.name}>" for s in c.slots)

    def build(self, output: ir.Output, labels: tuple[str, ...]) -> Constraint:
        assert output.template is not None
        fields = {f.name: f for f in output.fields}
        slots = tuple(Slot(text=p.text) if not p.field else _slot(fields[p.field], labels) for p in output.template)
        return Constraint(kind="template", pattern=pattern(output, labels, named=False), slots=slots)

    def grammar(self, c: Constraint) -> Any:
        g = guidance()
        node: Any = ""
        for s in c.slots:
            if not s.name:
                node += s.text
            elif s.options:
                node += g.select(list(s.options), name=s.name)
            else:
                node += g.gen(name=s.name, regex=s.pattern)
        return node

    def violation(self, c: Constraint, text: str, schema: dict[str, Any] | None) -> str | None:
        rx = _named(c.slots)
        if rx is None or rx.fullmatch(text):  # a field's pattern Python cannot read: nothing to check
            return None
        return f"{show(text)} does not follow the output template"

    def sample(self, c: Constraint, rng: random.Random, vocab: list[str], max_tokens: int) -> tuple[str, str]:
        text = "".join(s.text if not s.name else _fake(s, rng, vocab) for s in c.slots)
        words = text.split()  # a token is a word to the fake backend
        if len(words) > max_tokens:
            return " ".join(words[:max_tokens]), "length"
        return text, "stop"

    def send(self, dialect: Dialect, c: Constraint, mode: str, body: dict[str, Any]) -> str:
        return dialect.regex(c.pattern, mode, body)

    def read(self, output: ir.Output, text: str, cap: int | None) -> Read | None:
        m = _parser(output).fullmatch(text)
        if m is None:
            return Read(None, "invalid template", f"{show(text)} does not follow the output template")
        out: dict[str, Any] = {}
        for f in output.fields:
            value, problem = _value(f, m.group(f.name))
            if problem:
                return Read(None, "invalid template", f"`{f.name}`: {problem}")
            out[f.name] = value
        return Read(out)


def _slot(f: ir.OutputField, labels: tuple[str, ...]) -> Slot:
    args = dict(f.args)
    options: tuple[str, ...] = ()
    if f.type == "label":
        options = labels
    elif f.type == "choice":
        options = tuple(args["options"])
    elif f.type == "bool":
        options = ("true", "false")
    bounds = args.get("range") if f.type in ("int", "float") else string_chars(args) if f.type == "string" else None
    return Slot(name=f.name, type=f.type, options=options, pattern=field_pattern(f, labels),
                bounds=None if bounds is None else (bounds[0], bounds[1]))


@functools.lru_cache(maxsize=64)
def _named(slots: tuple[Slot, ...]) -> re.Pattern[str] | None:
    parts = []
    for s in slots:
        if s.name and compiled(s.pattern) is None:
            return None
        parts.append(escape(s.text) if not s.name else f"(?P<{s.name}>{s.pattern})")
    return re.compile("".join(parts))


@functools.lru_cache(maxsize=64)
def _parser(output: ir.Output) -> re.Pattern[str]:
    return re.compile(pattern(output, None), re.DOTALL)


def _value(f: ir.OutputField, raw: str) -> tuple[Any, str]:
    """A field's typed value from its text, and what is wrong with it ("" when nothing)."""
    if f.type == "string":
        text = raw.strip()
        return text, "" if text else "empty"
    if f.type == "bool":
        return raw == "true", ""
    if f.type in ("int", "float"):
        value: float = int(raw) if f.type == "int" else float(raw)
        lo, hi = dict(f.args).get("range", (value, value))
        return value, "" if lo <= value <= hi else f"{raw} is outside {lo}..{hi}"
    return raw, ""


def _fake(s: Slot, rng: random.Random, vocab: list[str]) -> str:
    if s.options:
        return rng.choice(s.options)
    if s.type == "regex":
        return regex_sample(s.pattern, rng)
    lo, hi = s.bounds or (0, 100)
    if s.type == "int":
        return str(rng.randint(int(lo), int(hi)))
    if s.type == "float":
        return str(round(rng.uniform(lo, hi), 3))
    line = sentence(rng, vocab, 3 + rng.randrange(10))
    return line[: int(hi)] if len(line) >= lo else (line + " ok" * int(lo))[: int(hi)]
