"""The build's bookkeeping per variant, typed: what the steps and the scheduler learn about a
variant's rows (kept, dropped, cut, generation groups, quota, cost) and the manifest, card, lock
and run log read back. One `VariantState` per variant, reached by `Context.variant(v)`; each field
has one writer (named beside it) and readers that see its type, not a string-keyed dict.

A field that is None was never recorded for this variant (no quota loop, no example stops, ...):
the manifest leaves such a variant out of that entry, as it always has. `data()` methods give the
JSON shapes the manifest and run log promise, key for key, so their bytes do not change."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["VariantState", "Groups", "Stops", "Trimmed", "QuotaReport", "KeepRates", "Efficiency", "Retrieval"]


@dataclass(frozen=True, slots=True)
class Groups:
    """How a variant's rows went to the backend: the group width and the number of groups."""

    width: int
    groups: int

    def data(self) -> dict[str, int]:
        return {"width": self.width, "groups": self.groups}


@dataclass(frozen=True, slots=True)
class Stops:
    """Rows an example-derived stop string ended, and the tokens that saved (at most)."""

    rows: int
    tokens_saved: int

    def data(self) -> dict[str, int]:
        return {"rows": self.rows, "tokens_saved": self.tokens_saved}


@dataclass(frozen=True, slots=True)
class Trimmed:
    """Conversation rows sent without their oldest turns, to fit the model's context."""

    rows: int
    turns_left_out: int

    def data(self) -> dict[str, int]:
        return {"rows": self.rows, "turns_left_out": self.turns_left_out}


@dataclass(frozen=True, slots=True)
class QuotaReport:
    """One label's quota after the cut: wanted, kept, requests over every round, rows cut."""

    wanted: int
    kept: int
    requests: int
    surplus: int

    @property
    def met(self) -> bool:
        return self.kept >= self.wanted

    def data(self) -> dict[str, Any]:
        return {"wanted": self.wanted, "kept": self.kept, "requests": self.requests, "met": self.met,
                "surplus": self.surplus}


@dataclass(frozen=True, slots=True)
class KeepRates:
    """What the lock records of a variant's quota loop for the next build's first round: per label
    the rows its filters kept (before the cut) and the requests they took, under `basis` (the
    fingerprint of what the rate depends on, runtime/engine/quota.py: variant_basis)."""

    basis: str
    labels: dict[str, dict[str, int]]  # label -> {"kept", "requests"}: the lock's JSON shape

    def data(self) -> dict[str, Any]:
        return {"basis": self.basis, "labels": self.labels}


@dataclass(frozen=True, slots=True)
class Efficiency:
    """A variant's cost per kept row (facts of the data: planned requests over every round, prompt
    tokens of those requests) and how its first round was planned."""

    requests: int
    kept: int
    prompt_tokens: int
    rates_from: str
    keep_rate: dict[str, float]  # label -> the rate its first round was sized from
    rounds: dict[str, int]  # label -> rounds it took

    @property
    def requests_per_kept(self) -> float | None:
        return round(self.requests / self.kept, 3) if self.kept else None

    @property
    def prompt_tokens_per_kept(self) -> float | None:
        return round(self.prompt_tokens / self.kept, 1) if self.kept else None

    def data(self) -> dict[str, Any]:
        return {"requests": self.requests, "kept": self.kept, "prompt_tokens": self.prompt_tokens,
                "requests_per_kept": self.requests_per_kept, "prompt_tokens_per_kept": self.prompt_tokens_per_kept,
                "rates_from": self.rates_from, "keep_rate": self.keep_rate, "rounds": self.rounds}


@dataclass(frozen=True, slots=True)
class Retrieval:
    """How a retriever's index was built (the manifest's `retrieval` entry, per retriever name)."""

    method: str
    k1: float
    b: float
    similarity: str
    documents: int
    corpus_sha256: str
    encoder: str | None = None  # model and backend of the stored vectors (dense only)

    def data(self) -> dict[str, Any]:
        out = {"method": self.method, "k1": self.k1, "b": self.b, "similarity": self.similarity,
               "documents": self.documents, "corpus_sha256": self.corpus_sha256}
        return out | ({"encoder": self.encoder} if self.encoder else {})


@dataclass(slots=True)
class VariantState:
    """Everything a build records of one variant. Writers: the parse step (steps/generate.py:
    `dropped`, `cut`, `stops`), the filter step (steps/filters.py: `dropped`, `unscored`), both
    through `drop`; `keep` (the filter step, then the scheduler's quota cut); the scheduler
    (runtime/engine/scheduler.py: `groups`, `history`, `judged`, `quota`, `keep_rates`,
    `efficiency`, `stats`, `usage`)."""

    kept: dict[str, int] | None = None  # label -> rows kept after filters and the quota cut
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> rows
    dropped_by_label: dict[str, Counter[str]] = field(default_factory=dict)  # label -> reason -> rows
    unscored: Counter[str] | None = None  # `fluency.unknown`, `judge.unknown` -> rows kept unscored
    cut: Counter[str] = field(default_factory=Counter)  # reason -> rows cut short, kept
    stops: Stops | None = None
    groups: Groups | None = None
    history: Trimmed | None = None
    quota: dict[str, QuotaReport] | None = None  # label -> its quota, in label order
    keep_rates: KeepRates | None = None
    efficiency: Efficiency | None = None
    judged: dict[str, Counter[int]] | None = None  # label -> judge score -> rows
    # new generations, cache hits and tokens of this build (a fact of the run); None: no group committed
    stats: Counter[str] | None = None
    # requests, prompt and generated tokens of every completion its rows came from, new or cached
    # alike: a fact of the data (the card's cost), the same whichever build generated them
    usage: Counter[str] = field(default_factory=Counter)

    def drop(self, label: str | None, reason: str, n: int = 1) -> None:
        """Count `n` rows dropped for `reason` (a short stable key), in all and per label."""
        self.dropped[reason] += n
        self.dropped_by_label.setdefault(label or "", Counter())[reason] += n

    def keep(self, labels: list[str | None]) -> None:
        """The labels of the rows kept (after filters; again after the quota cut)."""
        self.kept = dict(Counter(lb or "" for lb in labels))

    def add_unscored(self, unscored: Counter[str]) -> None:
        """Rows its filters kept without a score (counts of zero stay: the manifest shows them)."""
        if self.unscored is None:
            self.unscored = Counter()
        self.unscored.update(unscored)

    def tally(self) -> Counter[str]:
        """This build's counters of the variant (created at its first committed group)."""
        if self.stats is None:
            self.stats = Counter()
        return self.stats
