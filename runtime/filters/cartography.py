"""Dataset cartography (Swayamdipta et al. 2020) with a linear student."""

from __future__ import annotations

from synthc.compiler import ir
from synthc.runtime.prompting.postprocess import Candidate

__all__ = ["cartography", "kept_of", "rows_for"]


def cartography(rows: list[Candidate], c: ir.Cartography) -> None:
    """p(intended label) after each SGD epoch; confidence = its mean; keep the top `keep`
    fraction by confidence within each label (the rest: `cartography`)."""
    labels = [r.label or "" for r in rows]
    if len(set(labels)) < 2:
        return
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier

    x = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform([r.text for r in rows])
    classes = sorted(set(labels))
    clf = SGDClassifier(loss="log_loss", random_state=0, alpha=1e-4)
    y = np.array(labels)
    history = []
    for _ in range(c.epochs):
        clf.partial_fit(x, y, classes=classes)
        p = clf.predict_proba(x)
        col = {k: i for i, k in enumerate(clf.classes_)}
        history.append([p[i, col[lb]] for i, lb in enumerate(labels)])
    conf = np.mean(np.array(history), axis=0)
    for r, cf in zip(rows, conf):
        r.scores["confidence"] = round(float(cf), 6)
    for lb in classes:
        members = [r for r in rows if (r.label or "") == lb]
        cut = _cut([r.scores["confidence"] for r in members], c.keep)
        for r in members:
            if r.scores["confidence"] < cut:
                r.drop("cartography", f"confidence {r.scores['confidence']:.3f} < {cut:.3f}")


def _cut(confidences: list[float], keep: float) -> float:
    """The confidence a label's row must reach: the (1 - keep) quantile of its rows' (linear
    interpolation, so 15 of 18 rows stay at keep 0.83: the quantile falls between the 3rd and
    4th lowest)."""
    import numpy as np

    return float(np.quantile(confidences, 1 - keep))


def kept_of(n: int, keep: float) -> int:
    """Rows cartography keeps of a label's `n` (distinct confidences; ties keep more): its own rule,
    applied to ranks. What the quota planner aims a label's own count at (runtime/engine/quota.py).

    >>> [kept_of(n, 0.83) for n in (1, 2, 17, 18, 19, 20)]
    [1, 1, 14, 15, 15, 16]
    """
    if n <= 1:
        return n
    cut = _cut([float(k) for k in range(n)], keep)
    return sum(1 for k in range(n) if k >= cut)


def rows_for(wanted: int, keep: float) -> int:
    """The fewest rows of a label that cartography leaves `wanted` of.

    >>> rows_for(15, 0.83), rows_for(2, 0.83), rows_for(0, 0.83)
    (18, 3, 0)
    """
    n = wanted
    while kept_of(n, keep) < wanted:
        n += 1
    return n
