"""The label oracle: TF-IDF (word 1-2 grams, sublinear tf) + logistic regression trained on real
labelled rows, scoring a generated row with the probability of its intended label.

Calibration: the same model class is cross-validated on the training rows (5 folds, stratified),
so every real row gets the score of a model that never saw it. Per label, the q-quantile of the
held-out scores real rows of that label get is that label's threshold: `calibrate = 0.1` drops a
generated row only when it scores below what 90 % of unseen real rows of its label score. An
absolute threshold (`keep = 0.5`) cannot mean that: with many labels the probability mass spreads
and 0.5 passes few real rows (docs/language.md has the measurements).

Copy guard: a model scores its own training rows far above unseen ones, so a generated row that
copies training text would be rewarded. A row sharing an n-word span with a training row is
scored instead by the fold model that held that training row out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from synthc.runtime.filters.shingles import ShingleIndex

__all__ = ["Oracle", "Score", "FOLDS", "COPY_NGRAM"]

FOLDS = 5
COPY_NGRAM = 8  # a shared span this long marks a row as (partly) copied from a training row
C = 4.0


@dataclass(frozen=True, slots=True)
class Score:
    prob: float  # probability of the intended label
    heldout: bool  # scored by the fold model that never saw the training row it copies


class Oracle:
    """`prob` scores with the model fit on every row; `score` adds the copy guard; `thresholds`
    are the per-label quantiles of held-out scores."""

    def __init__(self, texts: Sequence[str], labels: Sequence[str]) -> None:
        self.texts, self.labels = list(texts), [str(x) for x in labels]
        self.classes = sorted(set(self.labels))  # what LogisticRegression's classes_ will be
        self._folds: list[tuple[Any, list[int]]] | None = None  # (model, held-out row indices)
        self._heldout: list[float] | None = None
        self._fold_of: list[int] = []
        self._copies: ShingleIndex | None = None

    # The model is fit on first use (seconds): a preview whose screening is memoised never needs it.
    @cached_property
    def _fit(self) -> tuple[Any, Any, Any]:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        # The vocabulary and idf see every training text (no labels): fold models share them.
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
        x = vec.fit_transform(self.texts)
        return vec, x, LogisticRegression(max_iter=2000, C=C, random_state=0).fit(x, self.labels)

    @property
    def vec(self) -> Any:
        return self._fit[0]

    @property
    def _x(self) -> Any:
        return self._fit[1]

    @property
    def clf(self) -> Any:
        return self._fit[2]

    @cached_property
    def digest(self) -> str:
        """Content address of what the oracle learns (its rows) and how (the model's settings): the
        screening memo's key (runtime/store/memo.py), hashed once however many variants screen."""
        blob = json.dumps([C, FOLDS, COPY_NGRAM, self.texts, self.labels], ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    # -- scoring ---------------------------------------------------------------------------------
    def prob(self, texts: Sequence[str], labels: Sequence[str | None]) -> list[float]:
        """p(intended label) under the model fit on every training row."""
        return _own(self.clf, self.vec.transform(list(texts)), labels) if texts else []

    def score(self, texts: Sequence[str], labels: Sequence[str | None]) -> list[Score]:
        """p(intended label), a row that copies a training row scored by the model that held it out."""
        if not texts:
            return []
        full = self.prob(texts, labels)
        folds = self._cross_validate()
        if self._copies is None:
            self._copies = ShingleIndex.build(self.texts, COPY_NGRAM)
        out: list[Score] = []
        for text, label, p in zip(texts, labels, full):
            hits = self._copies.overlaps(text)
            if not hits:
                out.append(Score(p, False))
                continue
            row = max(sorted(hits), key=lambda d: hits[d])  # the training row it copies most
            model, _ = folds[self._fold_of[row]]
            out.append(Score(_own(model, self.vec.transform([text]), [label])[0], True))
        return out

    # -- calibration -----------------------------------------------------------------------------
    def heldout(self) -> list[float]:
        """Every training row's p(own label) from the fold model that did not see it."""
        if self._heldout is None:
            scores = [0.0] * len(self.texts)
            for model, rows in self._cross_validate():
                for i, p in zip(rows, _own(model, self._x[rows], [self.labels[i] for i in rows])):
                    scores[i] = p
            self._heldout = scores
        return self._heldout

    def cutoff(self, keep: float | None, calibrate: float | None) -> Callable[[str | None], float]:
        """The score a row of a label must reach: `keep` (absolute), else the label's `calibrate`
        quantile of held-out real rows, 0.0 with neither. The filter and the screen both use it."""
        if keep is not None:
            return lambda label: keep
        thresholds = self.thresholds(calibrate) if calibrate is not None else {}
        return lambda label: thresholds.get(label or "", 0.0)

    def thresholds(self, q: float) -> dict[str, float]:
        """Per label: the q-quantile of the held-out scores of real rows of that label."""
        import numpy as np

        scores = self.heldout()
        out: dict[str, float] = {}
        for label in self.classes:
            mine = [s for s, lb in zip(scores, self.labels) if lb == label]
            out[label] = float(np.quantile(mine, q)) if mine else 0.0
        return out

    def _cross_validate(self) -> list[tuple[Any, list[int]]]:
        if self._folds is not None:
            return self._folds
        from collections import Counter

        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import KFold, StratifiedKFold

        smallest = min(Counter(self.labels).values())
        n = min(FOLDS, len(self.texts))
        # Stratified when every label can be in every fold (it warns otherwise); plain k-fold else.
        splitter = (StratifiedKFold(n, shuffle=True, random_state=0) if smallest >= n
                    else KFold(n, shuffle=True, random_state=0))
        self._fold_of = [0] * len(self.texts)
        folds = []
        for k, (train, test) in enumerate(splitter.split(self._x, self.labels)):
            y = [self.labels[i] for i in train]
            if len(set(y)) < 2:  # a fold left with one label: that fold's rows get the full model
                model = self.clf
            else:
                model = LogisticRegression(max_iter=2000, C=C, random_state=0).fit(self._x[train], y)
            rows = [int(i) for i in test]
            for i in rows:
                self._fold_of[i] = k
            folds.append((model, rows))
        self._folds = folds
        return folds


def _own(model: Any, x: Any, labels: Sequence[str | None]) -> list[float]:
    """p(label) per row; 0 for a label the model never saw."""
    p = model.predict_proba(x)
    col = {str(c): i for i, c in enumerate(model.classes_)}
    return [float(p[i, col[lb]]) if lb in col else 0.0 for i, lb in enumerate(labels)]
