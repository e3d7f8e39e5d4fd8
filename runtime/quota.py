"""Quotas met after filtering: `per_label` counts KEPT rows, within an attempt budget.

A generate node's first round is the render step's plan (each label's wanted rows). When its
rows are done, the scheduler runs the variant's own parse and filter steps — the very functions of
the build, on a scratch context so nothing is counted twice — over everything generated so far
and counts the kept rows per label. A label that is short gets a further round of planned rows
(new keys `<label>/<index>` counting on, their own RNG seeds; conversation turns continue the
label's conversation), sized from the label's observed keep rate, until it has its rows or
`attempts × wanted` requests are spent. After the real filter step, each label's kept rows beyond
its quota are cut in plan order, so variants compare at equal N.

Every decision is a pure function of completions, which are a pure function of the plan: the
same spec, data and settings plan the same rounds, a rebuild finds them all in the cache, and a
resumed build (`kill -9`) replans the rounds it had reached and regenerates only what was lost.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any, Sequence

from synthc.compiler import ir
from synthc.compiler.plan import Plan
from synthc.runtime.rows import Planned, Planner, label_counts

__all__ = ["Quota", "LabelQuota", "stages", "next_size", "cut", "budget", "intended"]


@dataclass(slots=True)
class LabelQuota:
    wanted: int  # kept rows the recipe asks for
    budget: int  # most requests: attempts × wanted
    requests: int = 0  # planned so far, over every round
    kept: int = 0  # after parse and filters, at the last count
    exhausted: bool = False  # its inputs ran out (retrieved pairs): no more rows can be planned


def next_size(q: LabelQuota) -> int:
    """Requests for a label's next round: enough to cover what it lacks at its observed keep rate
    (kept rows per request, smoothed so that a label with nothing kept yet still gets a finite
    estimate), within what is left of its budget. 0 when it is met or spent.

    >>> next_size(LabelQuota(wanted=10, budget=40, requests=10, kept=6))
    7
    >>> next_size(LabelQuota(wanted=10, budget=40, requests=10, kept=0))
    30
    >>> next_size(LabelQuota(wanted=10, budget=40, requests=40, kept=3))
    0
    """
    need, left = q.wanted - q.kept, q.budget - q.requests
    if need <= 0 or left <= 0 or q.exhausted:
        return 0
    rate = (q.kept + 1) / (q.requests + 2)
    return max(1, min(left, math.ceil(need / rate)))


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
    rounds: int = 1

    @classmethod
    def start(cls, node: str, v: ir.Variant, planner: Planner, first: Sequence[Planned],
              parse: str, filt: str) -> Quota:
        wanted = label_counts(v, planner.labels)
        planned = Counter(r.label or "" for r in first)
        labels = {lb: LabelQuota(wanted=n, budget=v.attempts * n, requests=planned[lb],
                                 exhausted=planned[lb] < n)  # the first round already ran out of inputs
                  for lb, n in wanted.items()}
        return cls(node, v, planner, parse, filt, labels)

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
        overlay[self.node] = generations
        try:
            overlay[self.parse] = run_step(scratch, self.parse, overlay)
            for node in between(ctx.plan, self.parse, self.filter):
                overlay[node] = judged(overlay[self.parse]) if judged else overlay[self.parse]
            kept = run_step(scratch, self.filter, overlay)
        except RunFailed:  # no row survived (E525 in the real step): nothing kept yet
            return Counter()
        return Counter(intended(c) for c in kept)

    @staticmethod
    def _scratch(ctx: Any) -> Any:
        from synthc.runtime.steps import Context

        return Context(ctx.plan, ctx.cache, _Silent(), ctx.models, ctx.force, recipe=ctx.recipe)

    def next_round(self, kept: Counter[str]) -> list[Planned]:
        """The rows of the next round (labels in label order), or [] when every label is met,
        spent or out of inputs."""
        rows: list[Planned] = []
        for lb, q in self.labels.items():
            q.kept = kept.get(lb, 0)
            n = next_size(q)
            if n == 0:
                continue
            more = self.planner.more(lb, q.requests, n)
            q.requests += len(more)
            q.exhausted = len(more) < n
            rows += more
        if rows:
            self.rounds += 1
        return rows

    def cut(self, kept: list[Any]) -> tuple[list[Any], Counter[str]]:
        """Each label's first `wanted` kept rows in plan order (the rest cut: equal N), and the
        number cut per label."""
        return cut(kept, {lb: q.wanted for lb, q in self.labels.items()})

    def report(self, kept: Counter[str], surplus: Counter[str]) -> dict[str, dict[str, Any]]:
        """The manifest's `quota` entry of this variant: per label wanted, kept (after the cut),
        requests (over every round), met, and the rows cut beyond the quota."""
        return {lb: {"wanted": q.wanted, "kept": kept.get(lb, 0), "requests": q.requests,
                     "met": kept.get(lb, 0) >= q.wanted, "surplus": surplus.get(lb, 0)}
                for lb, q in self.labels.items()}


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
