"""Name suggestions for did-you-mean help lines."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["suggest", "did_you_mean"]

MAX_SUGGEST_CHARS = 100


def _distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate within edit distance < 3 (ties: first in the given order).

    >>> suggest("postive", ["negative", "positive"])
    'positive'
    >>> suggest("zzz", ["positive"]) is None
    True
    """
    best: tuple[int, str] | None = None
    limit = 2 if len(name) > 3 else 1
    if len(name) > MAX_SUGGEST_CHARS:  # the distance is quadratic; nobody mistypes a name that long
        return None
    for cand in candidates:
        if abs(len(cand) - len(name)) > limit:  # the distance is at least the difference in length
            continue
        d = _distance(name.lower(), cand.lower())
        if d <= limit and (best is None or d < best[0]):
            best = (d, cand)
    return best[1] if best else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    hit = suggest(name, list(candidates))
    return f"did you mean `{hit}`?" if hit else None
