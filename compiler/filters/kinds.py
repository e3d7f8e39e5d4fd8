"""The registered filter kinds, in declaration order (the `filter` block's settings, then its
nested blocks, as the schema table and docs list them). `order` on each kind is the order they run."""

from __future__ import annotations

from synthc.compiler.filters.base import FilterKind
from synthc.compiler.filters.cartography import Cartography
from synthc.compiler.filters.dedupe import Dedupe
from synthc.compiler.filters.echo import Echo
from synthc.compiler.filters.fluency import Fluency
from synthc.compiler.filters.judge import Judge
from synthc.compiler.filters.length import Chars, Words
from synthc.compiler.filters.labels import Labels
from synthc.compiler.filters.near_copy import NearCopy
from synthc.compiler.filters.oracle import LabelOracle

__all__ = ["KINDS"]

KINDS: tuple[FilterKind, ...] = (
    Words(), Chars(), Dedupe(), Labels(), LabelOracle(), Cartography(), NearCopy(), Fluency(), Judge(), Echo(),
)
