"""Dataset cartography (Swayamdipta et al. 2020) with a linear student."""

from __future__ import annotations

from synthc.compiler import ir
from synthc.runtime.prompting.postprocess import Candidate

__all__ = ["cartography"]


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
        cut = np.quantile([r.scores["confidence"] for r in members], 1 - c.keep)
        for r in members:
            if r.scores["confidence"] < cut:
                r.drop("cartography", f"confidence {r.scores['confidence']:.3f} < {cut:.3f}")
