"""The steps of a plan, one function per node kind, in a registry the scheduler looks up.

A step is `fn(ctx, target, inputs, node) -> value`: `target` is the node's typed IR object
(`Step.target`), `inputs` the values of its producers keyed by the role the plan's edge gives
them ("seeds", "index", "candidates", ...), `node` its id (for events only). A step never reads
another node's value any other way, so the plan's edges are the whole data flow.

`generate` is not here: generation is the engine's (runtime/engine/groups.py), which runs a node's rows
in groups while the scheduler goes on with other nodes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from synthc.compiler import ir
from synthc.compiler.diagnostics import Diagnostic, Sink
from synthc.compiler.plan import Plan, Step
from synthc.compiler.source import Span
from synthc.runtime.store.cache import Cache
from synthc.runtime.models.load import ModelPool
from synthc.runtime.engine.progress import Events
from synthc.runtime.steps.state import Retrieval, VariantState

__all__ = ["Context", "VariantState", "Inputs", "StepFn", "STEPS", "run_step", "run_until", "inputs_of"]


@dataclass(slots=True)
class Context:
    """What every step may use besides its inputs: the plan, cache, models, events, and the
    build's bookkeeping for manifests and the lockfile."""

    plan: Plan
    cache: Cache | None  # opened after the preflight checks
    events: Events
    models: ModelPool
    force: bool = False
    recipe: str = ""  # the main spec, absolute, symlinks resolved: it names the lock and owns the outputs
    stats: Counter[str] = field(default_factory=Counter)  # the whole build: generated, cached, tokens, ...
    data_hashes: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    # variant id -> what the build recorded of it (runtime/steps/state.py), in the order first met
    variants: dict[str, VariantState] = field(default_factory=dict)
    retrieval: dict[str, Retrieval] = field(default_factory=dict)  # retriever name -> how its index was built
    warnings: list[Diagnostic] = field(default_factory=list)  # coded warnings (`warn`), in the order met
    build: str = ""  # this build's id in the usage ledger (runtime/store/ledger.py)

    @property
    def program(self) -> ir.Program:
        return self.plan.program

    @property
    def root(self) -> str:
        return self.plan.program.root

    def note(self, node: str, text: str) -> None:
        self.events.emit("step", node=node, note=text)

    def warn(self, code: str, message: str, origin: Span, label: str = "", help: str | None = None) -> None:
        """A coded warning at a recipe line: the build goes on; the scheduler shows the warnings at the
        end (or with the error that stops the build), and the event log gets each at once."""
        sink = Sink()
        sink.warning(code, message, origin, label, help=help)
        self.warnings += sink.items
        self.events.emit("warning", code=code, message=message)

    def variant(self, v: ir.Variant) -> VariantState:
        """The build's record of variant `v` (created when first met)."""
        return self.variants.setdefault(v.id, VariantState())

    def recorded(self, variants: list[ir.Variant]) -> list[tuple[ir.Variant, VariantState]]:
        """`variants` with their records, a variant the build never met with an empty one."""
        return [(v, self.variants.get(v.id) or VariantState()) for v in variants]


class Inputs:
    """A step's inputs by role, each with the producing Step (whose `target` says what it is)."""

    def __init__(self, items: list[tuple[str, Step, Any]]) -> None:
        self._items = items

    def one(self, role: str) -> Any:
        found = [value for r, _, value in self._items if r == role]
        if len(found) != 1:
            raise KeyError(f"expected one `{role}` input, the plan gives {len(found)}")
        return found[0]

    def get(self, role: str, default: Any = None) -> Any:
        return next((value for r, _, value in self._items if r == role), default)

    def each(self, role: str) -> list[tuple[Step, Any]]:
        return [(step, value) for r, step, value in self._items if r == role]


def inputs_of(plan: Plan, node: str, values: dict[str, Any]) -> Inputs:
    return Inputs([(role, plan.step(u), values[u]) for role, u in plan.inputs(node)])


StepFn = Callable[[Context, Any, Inputs, str], Any]


def _registry() -> dict[str, StepFn]:
    from synthc.runtime.steps import data, evaluate, filters, generate, outputs, retrieval

    return {
        "load": data.load, "sample": data.sample, "persona": data.persona, "oracle": data.oracle,
        "index": retrieval.index, "retrieve": retrieval.retrieve, "negatives": retrieval.negatives,
        "render": generate.render, "parse": generate.parse, "filter": filters.filter_rows,
        "export": outputs.export, "evaluate": evaluate.evaluate,
    }


STEPS: dict[str, StepFn] = {}


def run_step(ctx: Context, node: str, values: dict[str, Any]) -> Any:
    """Run a synchronous step with its inputs from `values` (node id -> value)."""
    if not STEPS:
        STEPS.update(_registry())
    step = ctx.plan.step(node)
    return STEPS[step.kind](ctx, step.target, inputs_of(ctx.plan, node, values), node)


def run_until(ctx: Context, targets: list[str]) -> dict[str, Any]:
    """Run `targets` and everything upstream of them, in plan order (synchronous steps only: for
    `plan --tokens`, benchmarks and tests that need planned rows without generating)."""
    needed = ctx.plan.select(targets) or set()
    values: dict[str, Any] = {}
    for node in ctx.plan.order():
        if node in needed:
            values[node] = run_step(ctx, node, values)
    return values
