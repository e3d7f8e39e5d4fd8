"""Checked values: what the checker hands to lowering and to the language server.

A `Values` is one block after schema typing (field values evaluated, defaults filled, spans kept);
a `Variant` is a task variant with the task's settings merged in; `Checked` is the whole program.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synthc.compiler import ast
from synthc.compiler.resolve import Resolved
from synthc.compiler.scopes import Context
from synthc.compiler.source import Span

__all__ = ["Values", "Variant", "TemplateUse", "Checked"]


@dataclass(slots=True)
class Values:
    """One checked block: evaluated field values (defaults filled), with their spans."""

    kind: str
    name: str | None
    origin: Span
    values: dict[str, Any] = field(default_factory=dict)
    spans: dict[str, Span] = field(default_factory=dict)
    open: dict[str, tuple[Any, Span]] = field(default_factory=dict)  # open attributes in order
    children: dict[str, Values] = field(default_factory=dict)  # nested blocks by kind (or kind:name)
    invalid: set[str] = field(default_factory=set)  # fields set to a value already reported (E203/E204 …)


@dataclass(slots=True)
class Variant:
    """A task variant with the task's settings merged in (the variant's attributes and blocks win)."""

    task: str
    name: str
    origin: Span
    values: Values  # task + variant attributes
    blocks: dict[str, Values]  # effective nested blocks by kind
    own: frozenset[str]  # block kinds (and "prompt") the variant itself overrides

    @property
    def label(self) -> str:
        """How messages name it: task `t`, variant `v`."""
        return f"task `{self.task}`" + (f", variant `{self.name}`" if self.name != "default" else "")


@dataclass(frozen=True, slots=True)
class TemplateUse:
    """A template literal as one variant renders it: the site and the facts deciding its scope."""

    lit: ast.Str
    site: str
    context: Context
    task: str
    variant: str


@dataclass(slots=True)
class Checked:
    resolved: Resolved
    decls: dict[str, dict[str, Values]]  # kind -> name -> checked block
    tasks: dict[str, list[Variant]]  # task -> its effective variants (source order)
    params: dict[str, Any]
    templates: list[TemplateUse] = field(default_factory=list)  # every checked template, per variant
