"""Local check of a constrained answer from a server: whatever the server claims to enforce, a
choice must be one of the options, a regex output must match the whole pattern, a template answer
must follow the template, and a JSON answer must decode and follow the schema the dialect sent. A
server that ignores a field (an old vLLM reading `guided_*` only, a proxy that drops unknown
fields, a dialect set wrong) otherwise hands the parse step output the recipe's types say cannot
happen (postprocess.py trusts constrained outputs to be complete by construction). Each kind's
check is its own (runtime/backends/constraints/)."""

from __future__ import annotations

from typing import Any

from synthc.runtime.backends.base import Constraint
from synthc.runtime.backends.constraints import kind

__all__ = ["violation"]


def violation(constraint: Constraint, text: str, schema: dict[str, Any] | None = None) -> str | None:
    """Why `text` breaks `constraint` (None when it keeps it). `schema`: the JSON schema as the
    dialect sent it (a strict-mode API is sent a loosened one), default the constraint's own."""
    return kind(constraint).violation(constraint, text, schema)
