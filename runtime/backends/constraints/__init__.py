"""The runtime half of the output constraint kinds (compiler/outputs/ is the language half), one
`ConstraintKind` per module, registered by name: how a variant's output becomes a `Constraint`,
its guidance grammar (serialized for the batched llama loop), its local check of a server's answer,
the fake backend's answer, how each server dialect carries it, and how an answer is parsed into
the row's fields. Backends, dialects, `verify`, `doctor` and postprocess ask the registry; none of
them branches on a kind's name. A test checks both halves register the same names."""

from __future__ import annotations

import functools

from synthc.runtime.backends.base import Constraint
from synthc.runtime.backends.constraints.base import ConstraintKind, Read
from synthc.runtime.backends.constraints.json import Json
from synthc.runtime.backends.constraints.regex import Regex
from synthc.runtime.backends.constraints.select import Select
from synthc.runtime.backends.constraints.template import Template
from synthc.runtime.backends.constraints.text import Text

__all__ = ["ConstraintKind", "Read", "KINDS", "kind", "grammar_text"]

KINDS: dict[str, ConstraintKind] = {k.name: k for k in (Text(), Select(), Regex(), Json(), Template())}


def kind(c: Constraint | str) -> ConstraintKind:
    """The registered kind of a constraint (or of a kind name)."""
    return KINDS[c if isinstance(c, str) else c.kind]


@functools.lru_cache(maxsize=256)
def grammar_text(c: Constraint) -> str:
    """The llguidance grammar guidance serializes for `c` (what the batched loop's matchers
    compile), built once per constraint and process."""
    node = kind(c).grammar(c)
    if node is None:
        raise ValueError(f"no grammar for constraint kind {c.kind!r}")
    return str(node.ll_grammar())
