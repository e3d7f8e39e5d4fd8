"""The output constraint kinds: each is one self-describing `OutputKind` in its own module,
collected here (the way compiler/filters/ registers filter kinds).

A kind declares which outputs it generates (`claims`: from the top-level field types and whether
the block has a `template`), its docs (hover, completion, docs/language.md), how E315 names it,
and its cross-field rules. Requests, the llama grammar, the endpoint dialects, the local check of
server answers, the fake backend and parsing read the same names from the runtime's half
(runtime/backends/constraints/), so adding a kind is one module here, one there, and its tests.
"""

from __future__ import annotations

from typing import Any

from synthc.compiler.outputs.base import OutputKind
from synthc.compiler.outputs.kinds import KINDS

__all__ = ["OutputKind", "KINDS", "NAMES", "get", "kind_for", "variant_rules", "output_settings"]

NAMES: tuple[str, ...] = tuple(k.name for k in KINDS)


def get(name: str) -> OutputKind:
    return next(k for k in KINDS if k.name == name)


def kind_for(types: tuple[str, ...], template: bool = False) -> OutputKind:
    """How an output with these top-level field types (and a `template` or not) is generated."""
    return next(k for k in KINDS if k.claims(types, template))


def output_settings() -> tuple[Any, ...]:
    """The `output` block's own keys, every kind's (compiler/schema.py's table; the rest of the
    block's keys are the output fields)."""
    return tuple(f for k in KINDS for f in k.settings)


def variant_rules() -> tuple[Any, ...]:
    """The kinds' own cross-field rules (compiler/rules.py runs them after its own)."""
    return tuple(rule for k in KINDS for rule in k.rules)
