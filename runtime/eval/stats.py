"""Uncertainty: per-seed scores, paired comparisons between datasets, and when a verdict is allowed.

A comparison pairs the seeds: seed s trains every dataset's student on its own seed-s subsample and
tests all of them on the same real test rows, so the per-seed differences d_s cancel what the
test rows have in common. A dataset is called better only when BOTH hold:
  - the 95% t-interval of the mean paired difference excludes 0, and
  - the mean difference exceeds the seeds' spread (the larger of the two datasets' seed std).
Anything else is a tie, and ties are not wins. The exact sign-flip permutation p-value of the
paired differences is reported beside it (with 5 seeds its smallest value is 2/32).
"""

from __future__ import annotations

import itertools
import math
import statistics
from typing import Any, Sequence

__all__ = ["spread", "paired", "chance_macro_f1", "at_chance"]


def spread(runs: Sequence[float]) -> dict[str, Any]:
    """runs, mean and sample standard deviation (0 for a single run)."""
    vals = [float(v) for v in runs if not math.isnan(v)]
    return {"runs": [round(v, 6) for v in vals],
            "mean": round(statistics.fmean(vals), 6) if vals else None,
            "std": round(statistics.stdev(vals), 6) if len(vals) > 1 else (0.0 if vals else None)}


def _t95(df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def _sign_flip_p(diffs: Sequence[float]) -> float:
    """Two-sided exact sign-flip test on the mean paired difference (Monte Carlo never needed:
    seeds are few; above 16 the test is skipped)."""
    n = len(diffs)
    observed = abs(sum(diffs))
    hits = sum(abs(sum(s * d for s, d in zip(signs, diffs))) >= observed - 1e-12
               for signs in itertools.product((1, -1), repeat=n))
    return hits / 2 ** n


def paired(a: str, b: str, a_runs: Sequence[float], b_runs: Sequence[float]) -> dict[str, Any]:
    """`a` minus `b` over the same seeds, and the verdict the rule above allows."""
    diffs = [x - y for x, y in zip(a_runs, b_runs) if not (math.isnan(x) or math.isnan(y))]
    out: dict[str, Any] = {"a": a, "b": b, "seeds": len(diffs), "diffs": [round(d, 6) for d in diffs]}
    if len(diffs) < 2:
        return out | {"mean_diff": round(diffs[0], 6) if diffs else None, "verdict": "tie",
                      "why": "fewer than two paired seeds: no spread to judge by"}
    mean = statistics.fmean(diffs)
    half = _t95(len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs))
    seeds_spread = max(statistics.stdev(a_runs), statistics.stdev(b_runs))
    lo, hi = mean - half, mean + half
    out |= {"mean_diff": round(mean, 6), "ci95": [round(lo, 6), round(hi, 6)],
            "spread": round(seeds_spread, 6),
            "p_sign_flip": round(_sign_flip_p(diffs), 6) if len(diffs) <= 16 else None}
    if (lo > 0 or hi < 0) and abs(mean) > seeds_spread:
        winner = a if mean > 0 else b
        return out | {"verdict": winner, "why": "the 95% interval excludes 0 and the difference exceeds the seeds' spread"}
    why = "the 95% interval includes 0" if lo <= 0 <= hi else "the difference is within the seeds' spread"
    return out | {"verdict": "tie", "why": why}


def chance_macro_f1(gold: Sequence[str]) -> float:
    """The better of two label-blind predictors on these test labels: always the most common label,
    and uniform guessing (expected per-label F1 = 2·p·(1/K) / (p + 1/K), p the label's share)."""
    counts: dict[str, int] = {}
    for g in gold:
        counts[g] = counts.get(g, 0) + 1
    k, n = len(counts), len(gold)
    if not n or k < 2:
        return 1.0 if n else 0.0
    top = max(counts.values()) / n
    constant = (2 * top / (1 + top)) / k
    uniform = statistics.fmean(2 * (c / n) * (1 / k) / ((c / n) + 1 / k) for c in counts.values())
    return max(constant, uniform)


def at_chance(macro_f1: dict[str, Any], chance: float) -> bool:
    """Not above chance beyond the seeds' spread: mean − chance ≤ max(2·std, 0.01)."""
    mean, std = macro_f1.get("mean"), macro_f1.get("std") or 0.0
    return mean is None or mean - chance <= max(2 * std, 0.01)
