"""The filter kinds: each is one self-describing `FilterKind` in its own module, collected here.

A kind declares what the rest of the compiler used to spell out kind by kind: its schema (settings
on the `filter` block, or its own nested block — `check`, hover, completion and docs read them
from the schema table this registry fills), its lowering into the `ir.Filter` field it owns, its
plan summary and plan inputs, its cross-field rules, its place in the fixed filter order and the
drop reasons it writes. The runtime's hooks (runtime/filters/hooks.py) are keyed by the same
names, so adding a kind is one module here, one hook there and the `ir.Filter` field it fills
(docs/design.md, "Adding a filter kind").
"""

from __future__ import annotations

from typing import Any

from synthc.compiler.filters.base import FilterKind, PlanBuilder
from synthc.compiler.filters.kinds import KINDS

__all__ = ["FilterKind", "PlanBuilder", "KINDS", "kind", "in_order", "filter_schemas", "lower_filter",
           "variant_rules", "card_reasons"]


def kind(name: str) -> FilterKind:
    return next(k for k in KINDS if k.name == name)


def in_order() -> tuple[FilterKind, ...]:
    """The kinds in the fixed order the filter step applies them (each sees the rows the earlier kept)."""
    return tuple(sorted(KINDS, key=lambda k: k.order))


def filter_schemas() -> dict[str, Any]:
    """The `filter` block's schema and its nested kinds' blocks, for compiler/schema.py's table."""
    from synthc.compiler.fields import BlockSchema

    settings = tuple(f for k in KINDS for f in k.settings)
    blocks = tuple(k.block for k in KINDS if k.block is not None)
    out: dict[str, Any] = {"filter": BlockSchema("filter", False, settings, blocks=tuple(b.kind for b in blocks))}
    for b in sorted(blocks, key=lambda b: _SCHEMA_ORDER.index(b.kind) if b.kind in _SCHEMA_ORDER else 99):
        out[b.kind] = b
    return out


# Where the nested blocks' schemas sit in the table (docs list them in this order); new kinds follow.
_SCHEMA_ORDER = ("label_oracle", "near_copy", "fluency", "cartography")


def lower_filter(filt: Any, seeds: str | None) -> dict[str, Any]:
    """The `ir.Filter` fields, every kind's, from the checked `filter` block (None: the task has none)."""
    out: dict[str, Any] = {}
    for k in KINDS:
        out.update(k.lower(filt, seeds))
    return out


def variant_rules() -> tuple[Any, ...]:
    """The kinds' own cross-field rules, in kind order (compiler/rules.py runs them after its own)."""
    return tuple(rule for k in KINDS for rule in k.rules)


def card_reasons() -> tuple[str, ...]:
    """Drop reasons the dataset card names, in filter order."""
    return tuple(r for k in in_order() for r in k.card_reasons)
