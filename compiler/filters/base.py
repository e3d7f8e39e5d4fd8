"""What a filter kind declares (compiler/filters/__init__.py explains the registry)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from synthc.compiler.fields import BlockSchema, Field

if TYPE_CHECKING:
    from synthc.compiler import ir
    from synthc.compiler.plan import Step
    from synthc.compiler.values import Values

__all__ = ["FilterKind", "PlanBuilder"]


class PlanBuilder(Protocol):
    """The part of the plan builder (compiler/plan.py) a kind may use to add its nodes and inputs."""

    p: ir.Program

    def add(self, step: Step, *deps: tuple[str, str]) -> str: ...

    def load_source(self, name: str) -> str: ...


class FilterKind:
    """One filter kind. Subclasses set the class attributes and override what they need."""

    name: ClassVar[str]  # the setting or nested block name in a `filter` block
    ir_field: ClassVar[str | None] = None  # the ir.Filter field it fills (None: always on, nothing to set)
    order: ClassVar[int]  # place in the fixed filter order (runtime/filters/pipeline.py)
    settings: ClassVar[tuple[Field, ...]] = ()  # fields on the `filter` block itself
    block: ClassVar[BlockSchema | None] = None  # or its own nested block
    card_reasons: ClassVar[tuple[str, ...]] = ()  # drop reasons the dataset card names
    summary_rank: ClassVar[int] = 0  # place of its part in the filter node's plan summary
    rules: ClassVar[tuple[Callable[..., None], ...]] = ()  # cross-field rules: fn(Variant, Report)
    unscored: ClassVar[tuple[str, str] | None] = None  # (reason key, "without …") of rows kept unscored

    def lower(self, filt: Values | None, seeds: str | None) -> dict[str, Any]:
        """Its `ir.Filter` field(s) from the checked `filter` block (None when the task has none).
        A nested-block kind lowers its block (`lower_block`)."""
        if self.ir_field is None:
            return {}
        child = filt.children.get(self.name) if filt is not None else None
        return {self.ir_field: None if child is None else self.lower_block(child, seeds)}

    def lower_block(self, block: Values, seeds: str | None) -> Any:
        raise NotImplementedError

    def value(self, f: ir.Filter) -> Any:
        """Its lowered setting in `f` (None: not used by this variant)."""
        return getattr(f, self.ir_field) if self.ir_field else None

    def summary(self, f: ir.Filter) -> str | None:
        """Its part of the filter node's plan summary (None: it says nothing)."""
        return None

    def plan_inputs(self, f: ir.Filter, b: PlanBuilder) -> list[tuple[str, str]]:
        """(role, node) inputs the filter step needs for this kind, added to the plan by `b`."""
        return []

    def plan_stage(self, v: ir.Variant, b: PlanBuilder, candidates: str) -> str:
        """A node of its own between parse and filter (the judge's generation): returns the node the
        filter step reads its candidates from (`candidates`, the parse node, when it has none)."""
        return candidates
