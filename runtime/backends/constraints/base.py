"""What the runtime half of an output constraint kind does (runtime/backends/constraints/__init__.py
explains the registry). Every hook takes the request's `Constraint`, typed data built once per
variant (`build`), never the recipe text."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from synthc.runtime.backends.base import Constraint

if TYPE_CHECKING:
    from synthc.compiler import ir
    from synthc.runtime.backends.dialects.base import Dialect

__all__ = ["ConstraintKind", "Read"]


@dataclass(frozen=True, slots=True)
class Read:
    """A constrained answer parsed into the row's fields, or why it could not be."""

    fields: dict[str, Any] | None
    reason: str = ""  # the drop reason key (`empty`, `invalid json`, `invalid template`)
    detail: str = ""


class ConstraintKind:
    """One constraint kind at run time. `name` is the compiler kind's (compiler/outputs/)."""

    name: ClassVar[str]
    stops: ClassVar[bool] = False  # stop strings end it (free text; a grammar says where others end)
    greedy: ClassVar[bool] = False  # decoded greedily whatever the temperature (a `select`)
    probe_tokens: ClassVar[int] = 48  # the token cap of `synthc doctor`'s probe under this kind
    fix: ClassVar[str] = "check the `dialect` (docs/servers.md: which field each server reads), or upgrade the server"

    def ask(self, c: Constraint) -> str:
        """What `synthc doctor` asks a server to answer under `c`."""
        return "Answer briefly."

    def build(self, output: ir.Output, labels: tuple[str, ...]) -> Constraint:
        """The constraint every request of an output of this kind carries."""
        raise NotImplementedError

    def grammar(self, c: Constraint) -> Any:
        """The guidance grammar node of `c` (None: free text, no grammar)."""
        return None

    def violation(self, c: Constraint, text: str, schema: dict[str, Any] | None) -> str | None:
        """Why `text` breaks `c` (None when it keeps it); `schema`: the JSON schema a dialect sent."""
        return None

    def sample(self, c: Constraint, rng: random.Random, vocab: list[str], max_tokens: int) -> tuple[str, str]:
        """The fake backend's answer under `c` and its finish (`stop` | `length`)."""
        raise NotImplementedError

    def send(self, dialect: Dialect, c: Constraint, mode: str, body: dict[str, Any]) -> str:
        """Put `c` into a server request `body` the way `dialect` carries it; the answer's unwrap mode."""
        return ""

    def read(self, output: ir.Output, text: str, cap: int | None) -> Read | None:
        """The fields of a complete answer (None: free text, parsed by the `parse` block's rules)."""
        return None
