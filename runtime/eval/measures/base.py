"""What a measure declares (runtime/eval/measures/__init__.py explains the registry)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from synthc.runtime.eval.datasets import Dataset
    from synthc.runtime.eval.evaluate import Run

__all__ = ["Measure", "Column", "Getter"]

Getter = Callable[[dict[str, Any]], Any]  # a dataset's metrics -> the cell's value (None: absent)


@dataclass(frozen=True, slots=True)
class Column:
    """One row of the report's side-by-side table (a column of `summary` in metrics.json)."""

    key: str  # summary key (metrics.json `summary.columns[].key`)
    title: str
    better: str  # "lower" | "higher" | "" (informational best per row; "" names none)
    get: Getter
    rank: int  # place in the table (the table's order predates the registry and is kept)
    plotted: bool = False  # drawn in the report's "Diversity per dataset" figure
    # Listed in metrics.json's `summary.rows` only where measured. Columns added after schema 3 set
    # it, so a report without the new metric keeps its bytes (schema 3's rows list every column).
    only_measured: bool = False


class Measure:
    """The runtime's half of one metric: what it computes for one dataset, and how the report
    shows it. `name` is the compiler's `MetricKind` of the same name (compiler/metrics/)."""

    name: ClassVar[str]
    rank: ClassVar[int]  # when it runs on a dataset (shared resources are first built in this order)
    embeds: ClassVar[bool] = False  # reads the dataset's embeddings (then the PCA projection is drawn)
    columns: ClassVar[tuple[Column, ...]] = ()

    def measure(self, run: Run, d: Dataset, reference: bool, out: dict[str, Any]) -> None:
        """Add its numbers for dataset `d` to `out` (`datasets.<name>` in metrics.json); a reason
        it cannot is recorded in `run.unavailable`, never a made-up number. `reference`: the
        gold reference entry, measured only for diversity."""
        raise NotImplementedError

    def details_html(self, d: dict[str, Any]) -> str:
        """Its part of the report's per-dataset details (HTML; "" for none)."""
        return ""
