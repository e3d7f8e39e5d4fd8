"""Quotas met after filtering: `per_label` counts KEPT rows, within an attempt budget.

Planning from an expected keep rate. Cartography keeps a fixed share of every label by
construction, so a label with cartography aims at the fewest rows its rule leaves `wanted` of
(`rows_for`: 18 rows for 15 at keep 0.83), without it at `wanted`. A label's first round is sized so
that, at the rate it is expected to pass the other filters, it yields that aim at once:
ceil(aim / rate) requests, within `attempts × wanted`. The rate is the one the recipe's lock
recorded for that variant and label (a previous build measured it: rows every filter but
cartography kept, per request), else a prior (PRIOR). The plan is a pure function of spec + lock;
the lock keeps a measured rate until the variant's requests or filters change (`basis`), so
rebuilding a locked recipe replans the same rows.

Top-ups as soon as a label is known short. When every row planned so far for one label is done, the
scheduler runs the variant's own parse and filter steps — the very functions of the build, on a
scratch context so nothing is counted twice — over that label's rows alone, and a label short of
its aim gets its next round at once (new keys `<label>/<index>` counting on, their own RNG seeds;
conversation turns continue the label's conversation), sized from its observed keep rate, while
other labels still generate. A label's own count cannot see what is decided across labels
(cartography ranks each label within the whole set, dedupe compares labels), so a label counted
alone aims at that aim, and when every label is settled the whole set is counted once more; a
label still short gets another round, until it has its rows or its budget is spent.
After the real filter step, each label's kept rows beyond its quota are cut in a canonical order
(the first round as rendered, then later rows by label and index), so variants compare at equal N.

Every decision is a pure function of one label's completions (or, at the end, of all of them),
which are a pure function of the plan: the same spec, lock, data and settings plan the same rounds,
a rebuild finds them all in the cache, and a resumed build (`kill -9`) replans the rounds it had
reached and regenerates only what was lost.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Sequence

from synthc.compiler import ir
from synthc.compiler.plan import Plan
from synthc.runtime.filters.cartography import rows_for
from synthc.runtime.prompting.rows import Planned, Planner, label_counts
from synthc.runtime.steps.state import QuotaReport

__all__ = ["Quota", "LabelQuota", "stages", "next_size", "first_size", "cut", "budget", "intended",
           "PRIOR", "variant_basis"]

# Rows per request expected to pass the filters (cartography aside: its share is planned exactly)
# of a label no build of this recipe has measured: what a 135M instruct model's free-text rows keep
# through length, echo, fluency, dedupe and the oracle once its recipe caps rows at the output's
# bound (0.8-0.9 on the quickstart). Optimistic on purpose:
# a rate set too low costs requests (the cut drops the surplus), one set too high costs a top-up
# round sized from the label's observed rate, started as soon as that label's rows are done.
PRIOR = 0.8


@dataclass(slots=True)
class LabelQuota:
    wanted: int  # kept rows the recipe asks for
    budget: int  # most requests: attempts × wanted
    requests: int = 0  # planned so far, over every round
    kept: int = 0  # after parse and filters, at the last count
    exhausted: bool = False  # its inputs ran out (retrieved pairs): no more rows can be planned
    aim: int = 0  # kept rows its own count aims at: wanted, more when cartography drops a share later
    rate: float = PRIOR  # the pass rate (cartography aside) its first round was planned with
    open: bool = True  # rows of its latest round are still to be counted
    rounds: int = 1


def first_size(wanted: int, rate: float, budget: int) -> int:
    """Requests of a label's first round: enough for `wanted` rows at `rate`, within budget.

    >>> first_size(8, 0.8, 32), first_size(8, 1.0, 32), first_size(8, 0.1, 32), first_size(0, 0.5, 0)
    (10, 8, 32, 0)
    """
    if wanted <= 0:
        return 0
    # Never fewer than the rendered first round (a split completion's rate above 1 plans no less).
    return max(wanted, min(budget, math.ceil(wanted / max(rate, 1e-6) - 1e-9)))


def next_size(q: LabelQuota, aim: int | None = None) -> int:
    """Requests for a label's next round: enough to cover what it lacks of `aim` (default: wanted)
    at its observed keep rate (kept rows per request, smoothed so that a label with nothing kept
    yet still gets a finite estimate), within what is left of its budget. 0 when it is met or spent.

    >>> next_size(LabelQuota(wanted=10, budget=40, requests=10, kept=6))
    7
    >>> next_size(LabelQuota(wanted=10, budget=40, requests=10, kept=0))
    30
    >>> next_size(LabelQuota(wanted=10, budget=40, requests=40, kept=3))
    0
    """
    need, left = (q.wanted if aim is None else aim) - q.kept, q.budget - q.requests
    if need <= 0 or left <= 0 or q.exhausted:
        return 0
    rate = (q.kept + 1) / (q.requests + 2)
    return max(1, min(left, math.ceil(need / rate)))


def _aim(v: ir.Variant, wanted: int) -> int:
    """Kept rows a label's own count aims at: cartography ranks within the whole set and drops
    its share of each label there, which a count of one label cannot see."""
    c = v.filter.cartography
    return rows_for(wanted, c.keep) if c is not None else wanted


def variant_basis(v: ir.Variant, program: ir.Program, planned: Sequence[Planned], fingerprint: str) -> str:
    """keep_rate_basis of a variant whose first round is `planned`, on a model of `fingerprint`: the
    key its job computes for the first request (no history yet)."""
    from synthc.runtime.prompting.rows import build_request
    from synthc.runtime.store.keys import generation_key, keep_rate_basis

    key = ""
    if planned:
        req, _ = build_request(v, program, planned[0], [])
        key = generation_key(req, fingerprint)
    return keep_rate_basis(v, key)


def budget(v: ir.Variant, program: ir.Program) -> tuple[int, int] | None:
    """(first-round requests, request budget) of a classification variant; None for qa_pairs."""
    if v.kind == "qa_pairs":
        return None
    labels = program.label_set(v.labels).names if v.labels else ("",)
    wanted = sum(label_counts(v, labels).values())
    return wanted, v.attempts * wanted


def stages(plan: Plan, generate: str) -> tuple[str, str] | None:
    """The parse and filter nodes that read generate node `generate`'s rows."""
    parse = next((n for n in plan.order() if plan.step(n).kind == "parse"
                  and any(u == generate for _, u in plan.inputs(n))), None)
    feeds = parse  # a judge node sits between parse and filter when the filter has a judge
    while feeds and (judge := next((n for n in plan.order() if plan.step(n).kind == "judge"
                                    and any(u == feeds for _, u in plan.inputs(n))), None)):
        feeds = judge
    filt = next((n for n in plan.order() if plan.step(n).kind == "filter"
                 and any(u == feeds for _, u in plan.inputs(n))), None) if feeds else None
    return (parse, filt) if parse and filt else None


def between(plan: Plan, parse: str, filt: str) -> list[str]:
    """The nodes on the rows' way from parse to filter (a judge's), nearest parse first."""
    path: list[str] = []
    node = next(u for role, u in plan.inputs(filt) if role == "candidates")
    while node != parse:
        path.append(node)
        node = next(u for role, u in plan.inputs(node) if role == "candidates")
    return path[::-1]


@dataclass(slots=True)
class Quota:
    """One generate node's quota loop: its labels' counts and the planner of further rounds."""

    node: str
    variant: ir.Variant
    planner: Planner
    parse: str
    filter: str
    labels: dict[str, LabelQuota] = field(default_factory=dict)
    first: dict[str, int] = field(default_factory=dict)  # row key -> position in the rendered first round
    source: str = "prior"  # where the first round's keep rates came from: `lock` or `prior`
    basis: str = ""  # what its measured keep rates hold for (keys.keep_rate_basis), recorded with them in the lock

    @classmethod
    def start(cls, node: str, v: ir.Variant, planner: Planner, first: Sequence[Planned],
              parse: str, filt: str, rates: dict[str, float] | None = None, basis: str = "") -> Quota:
        """The loop of one node; `rates`: each label's keep rate recorded in the lock for `basis`
        (None: the prior). The first round's extra rows come from `extra()`."""
        wanted = label_counts(v, planner.labels)
        planned = Counter(r.label or "" for r in first)
        labels = {lb: LabelQuota(wanted=n, budget=v.attempts * n, requests=planned[lb],
                                 exhausted=planned[lb] < n,  # the first round already ran out of inputs
                                 aim=_aim(v, n), rate=(rates or {}).get(lb, PRIOR))
                  for lb, n in wanted.items()}
        return cls(node, v, planner, parse, filt, labels, {r.key: k for k, r in enumerate(first)},
                   "lock" if rates else "prior", basis)

    def extra(self) -> list[Planned]:
        """Rows added to each label's first round so that, at its expected pass rate, it yields
        its aim without a further round (labels in label order)."""
        rows: list[Planned] = []
        for lb, q in self.labels.items():
            n = first_size(q.aim, q.rate, q.budget) - q.requests
            if n <= 0 or q.exhausted:
                continue
            more = self.planner.more(lb, q.requests, n)
            q.requests += len(more)
            q.exhausted = len(more) < n
            rows += more
        return rows

    def needs(self, plan: Plan) -> list[str]:
        """Nodes (other than this generate node and its parse) the count needs: the filter's
        other inputs, e.g. the label oracle."""
        skip = (self.node, self.parse, *between(plan, self.parse, self.filter))
        return [u for n in (self.parse, self.filter) for _, u in plan.inputs(n) if u not in skip]

    def parsed(self, ctx: Any, values: dict[str, Any], generations: list[Any]) -> list[Any]:
        """The variant's candidate rows if its rows were `generations` (the parse step on a scratch
        context): what a judge between parse and filter scores before a count."""
        from synthc.runtime.errors import RunFailed
        from synthc.runtime.steps import run_step

        overlay = dict(values)
        overlay[self.node] = generations
        try:
            return list(run_step(self._scratch(ctx), self.parse, overlay))
        except RunFailed:
            return []

    def count(self, ctx: Any, values: dict[str, Any], generations: list[Any],
              judged: Callable[[list[Any]], list[Any]] | None = None) -> Counter[str]:
        """Kept rows per label if the variant's rows were `generations`: the build's own parse
        and filter steps on a scratch context (their bookkeeping and events go nowhere). `judged`
        puts the judge's scores on the parsed rows (the scheduler has them scored first); without
        it a judge's rows pass on unscored (kept, as judge.unknown)."""
        from synthc.runtime.errors import RunFailed
        from synthc.runtime.steps import run_step

        scratch = self._scratch(ctx)
        overlay = dict(values)
        overlay[self.node] = self.ordered(generations)
        try:
            overlay[self.parse] = run_step(scratch, self.parse, overlay)
            for node in between(ctx.plan, self.parse, self.filter):
                overlay[node] = judged(overlay[self.parse]) if judged else overlay[self.parse]
            kept = run_step(scratch, self.filter, overlay)
        except RunFailed:  # no row survived (E525 in the real step): nothing kept yet
            return Counter()
        return Counter(intended(c) for c in kept)

    def label_round(self, label: str, kept: int) -> list[Planned]:
        """A label whose rows are all done, counted alone: its next round now (aiming at `aim`),
        or [] and the label is settled until the whole set is counted."""
        q = self.labels[label]
        q.kept, q.open = kept, False
        n = next_size(q, q.aim)
        if n == 0:
            return []
        more = self.planner.more(label, q.requests, n)
        q.requests += len(more)
        q.exhausted = len(more) < n
        if more:
            q.open, q.rounds = True, q.rounds + 1
        return more

    @property
    def settled(self) -> bool:
        return not any(q.open for q in self.labels.values())

    @staticmethod
    def _scratch(ctx: Any) -> Any:
        from synthc.runtime.steps import Context

        return Context(ctx.plan, ctx.cache, _Silent(), ctx.models, ctx.force, recipe=ctx.recipe)

    def next_round(self, kept: Counter[str]) -> list[Planned]:
        """Every label settled and the whole set counted: the rows of a further round for the
        labels still short (labels in label order), or [] when every label is met, spent or out
        of inputs."""
        rows: list[Planned] = []
        for lb, q in self.labels.items():
            q.kept = kept.get(lb, 0)
            n = next_size(q)
            if n == 0:
                continue
            more = self.planner.more(lb, q.requests, n)
            q.requests += len(more)
            q.exhausted = len(more) < n
            if more:
                q.open, q.rounds = True, q.rounds + 1
                q.aim = max(q.aim, q.wanted)
            rows += more
        return rows

    def ordered(self, generations: Sequence[Any]) -> list[Any]:
        """Generations in the canonical order, whatever order rounds were appended in: the
        rendered first round as planned, then every later row by label (label order) and index."""
        pos = {lb: k for k, lb in enumerate(self.labels)}
        first = self.first

        def key(g: Any) -> tuple[int, int, int]:
            r = g.row
            if r.key in first:
                return (0, first[r.key], 0)
            return (1, pos.get(r.label or "", len(pos)), r.index)
        return sorted(generations, key=key)

    def cut(self, kept: list[Any]) -> tuple[list[Any], Counter[str]]:
        """Each label's first `wanted` kept rows in plan order (the rest cut: equal N), and the
        number cut per label."""
        return cut(kept, {lb: q.wanted for lb, q in self.labels.items()})

    def report(self, kept: Counter[str], surplus: Counter[str]) -> dict[str, QuotaReport]:
        """The manifest's `quota` entry of this variant: per label wanted, kept (after the cut),
        requests (over every round), met, and the rows cut beyond the quota."""
        return {lb: QuotaReport(wanted=q.wanted, kept=kept.get(lb, 0), requests=q.requests, surplus=surplus.get(lb, 0))
                for lb, q in self.labels.items()}

    def measured(self, kept: Counter[str], surplus: Counter[str],
                 carto: Counter[str]) -> dict[str, dict[str, int]]:
        """Per label: rows the filters kept (before the cut), rows every filter but cartography
        kept (`passed`: the rate a lock records for the next build's first round, planned towards
        the aim) and requests. `carto`: rows cartography dropped per label."""
        out = {}
        for lb, q in self.labels.items():
            k = kept.get(lb, 0) + surplus.get(lb, 0)
            out[lb] = {"kept": k, "passed": k + carto.get(lb, 0), "requests": q.requests}
        return out

    def plan_report(self) -> dict[str, Any]:
        """How the first round was planned: the rate source and each label's rate and rounds."""
        return {"rates_from": self.source,
                "keep_rate": {lb: round(q.rate, 4) for lb, q in self.labels.items()},
                "rounds": {lb: q.rounds for lb, q in self.labels.items()}}


def cut(rows: list[Any], wanted: dict[str, int]) -> tuple[list[Any], Counter[str]]:
    """Keep each label's first `wanted[label]` rows in order; a label not in `wanted` is kept whole.

    >>> from types import SimpleNamespace as R
    >>> rows = [R(label=x) for x in "abab a".replace(" ", "")]
    >>> kept, surplus = cut(rows, {"a": 2, "b": 5})
    >>> "".join(r.label for r in kept), dict(surplus)
    ('abab', {'a': 1})
    """
    seen: Counter[str] = Counter()
    surplus: Counter[str] = Counter()
    out = []
    for r in rows:
        lb = intended(r)
        if lb in wanted and seen[lb] >= wanted[lb]:
            surplus[lb] += 1
            continue
        seen[lb] += 1
        out.append(r)
    return out, surplus


def intended(row: Any) -> str:
    """The label a row was planned for: quotas are per planned label (an output with a `label`
    field lets the model choose the row's label, which more rounds of one label cannot steer)."""
    planned = getattr(row, "row", None)
    return (planned.label if planned is not None else row.label) or ""


class _Silent:
    """Events of a scratch count: nothing is shown or logged."""

    def emit(self, event: str, **data: Any) -> None:
        pass

    def notice(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass
