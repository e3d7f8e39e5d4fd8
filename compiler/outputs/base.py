"""What an output constraint kind declares (compiler/outputs/__init__.py explains the registry)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from synthc.compiler.fields import Field

__all__ = ["OutputKind"]


class OutputKind:
    """One way an `output` block is generated. Subclasses set the class attributes and override
    `claims`; the runtime's half (grammar, local check, fake answers, wire format, parsing) is the
    class of the same name in runtime/backends/constraints/."""

    name: ClassVar[str]  # the constraint kind: what requests, dialect tables and docs call it
    doc: ClassVar[str]  # one line: hover, completion, docs/language.md
    what: ClassVar[str]  # how E315 names it: "cannot constrain output to <what>"
    settings: ClassVar[tuple[Field, ...]] = ()  # its own keys in the `output` block (check, hover, completion)
    rules: ClassVar[tuple[Callable[..., None], ...]] = ()  # cross-field rules: fn(Variant, Report)

    def claims(self, types: tuple[str, ...], template: bool) -> bool:
        """Whether an output whose top-level fields have these types (and which has a `template`
        or not) is generated as this kind. Kinds are asked in registry order; the first wins."""
        raise NotImplementedError
