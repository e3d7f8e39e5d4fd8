"""After generation: parse completions into candidate rows, then filter them.

Parse: split on the answer prefix, strip quotes, reject refusals (SynthesizRR §1.2 step 6).
Filters: length bounds, label subset, exact and near-duplicate removal, the label-preservation
oracle (TF-IDF + logistic regression trained on real labelled rows) and dataset cartography
(confidence over training epochs; keep the top fraction per label)."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from synthc.compiler import ir
from synthc.runtime.rows import Planned

__all__ = ["Candidate", "parse_completion", "Oracle", "train_oracle", "apply_filters"]

_QUOTES = "\"'“”‘’`"


@dataclass(slots=True)
class Candidate:
    key: str  # row key, plus "#n" for the n-th piece of a split completion
    text: str
    label: str | None
    fields: dict[str, Any]  # the other output fields
    provenance: dict[str, Any]
    row: Planned  # the planned row it came from: its seed row, persona and RNG seed, typed
    scores: dict[str, float] = field(default_factory=dict)
    dropped: str | None = None  # why a filter removed it (kept for the manifest counts)


def parse_completion(text: str, output: ir.Output, parse: ir.Parse) -> tuple[list[dict[str, Any]], str | None]:
    """Pieces (field dicts) of one completion, or ([], reason) when it is rejected."""
    for phrase in parse.reject:
        if phrase.lower() in text.lower():
            return [], f"refusal: {phrase}"
    if len(output.fields) == 1 and output.fields[0].type in ("label", "choice", "regex"):
        return ([{output.fields[0].name: text}], None) if text else ([], "empty")
    if output.structured:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            return [], "invalid json"
        if not isinstance(obj, dict):
            return [], "invalid json"
        return [obj], None
    pieces = [text]
    if parse.prefix:
        if parse.split:
            pieces = text.split(parse.prefix)
        elif text.lstrip().startswith(parse.prefix):
            pieces = [text.lstrip()[len(parse.prefix):]]
    out = []
    for p in pieces:
        p = p.strip()
        if parse.strip_quotes:
            p = _strip_quotes(p)
        if p:
            out.append({output.text_field: p})
    return (out, None) if out else ([], "empty")


def _strip_quotes(text: str) -> str:
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text)).strip()


class Oracle:
    """TF-IDF (word 1-2 grams, sublinear tf) + logistic regression on real labelled rows."""

    def __init__(self, texts: list[str], labels: list[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
        x = self.vec.fit_transform(texts)
        self.clf = LogisticRegression(max_iter=2000, C=4.0, random_state=0)
        self.clf.fit(x, labels)
        self.classes = [str(c) for c in self.clf.classes_]

    def prob(self, texts: list[str], labels: list[str | None]) -> list[float]:
        if not texts:
            return []
        p = self.clf.predict_proba(self.vec.transform(texts))
        col = {c: i for i, c in enumerate(self.classes)}
        return [float(p[i, col[lb]]) if lb in col else 0.0 for i, lb in enumerate(labels)]


def train_oracle(texts: list[str], labels: list[str]) -> Oracle:
    return Oracle(texts, labels)


def apply_filters(rows: list[Candidate], f: ir.Filter, oracle: Oracle | None) -> list[Candidate]:
    """Mark dropped rows (with the reason) and return the kept ones, in input order."""
    live = [r for r in rows if r.dropped is None]
    for r in live:
        words = len(r.text.split())
        if f.words and not f.words[0] <= words <= f.words[1]:
            r.dropped = f"words {words} outside {f.words[0]}..{f.words[1]}"
        elif f.chars and not f.chars[0] <= len(r.text) <= f.chars[1]:
            r.dropped = f"chars {len(r.text)} outside {f.chars[0]}..{f.chars[1]}"
        elif f.labels is not None and r.label not in f.labels:
            r.dropped = "label not kept"
    live = [r for r in live if r.dropped is None]
    if f.dedupe != "none":
        _dedupe(live, f)
        live = [r for r in live if r.dropped is None]
    if f.oracle is not None and oracle is not None:
        probs = oracle.prob([r.text for r in live], [r.label for r in live])
        for r, p in zip(live, probs):
            r.scores["oracle"] = round(p, 6)
            if f.oracle.drop and p < f.oracle.keep:
                r.dropped = f"oracle {p:.3f} < {f.oracle.keep}"
        live = [r for r in live if r.dropped is None]
    if f.cartography is not None:
        _cartography(live, f.cartography)
        live = [r for r in live if r.dropped is None]
    return live


def _dedupe(rows: list[Candidate], f: ir.Filter) -> None:
    seen: dict[str, str] = {}
    for r in rows:
        n = normalize(r.text)
        if n in seen:
            r.dropped = f"duplicate of {seen[n]}"
        else:
            seen[n] = r.key
    if f.dedupe != "near":
        return
    live = [r for r in rows if r.dropped is None]
    if len(live) < 2:
        return
    from sklearn.feature_extraction.text import TfidfVectorizer

    # Character 3-5-gram TF-IDF cosine: robust to small edits; earlier rows win.
    x = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit_transform([normalize(r.text) for r in live])
    sims = (x @ x.T).tocsr()
    removed: set[int] = set()
    for i in range(len(live)):
        if i in removed:
            continue
        row = sims.getrow(i)
        for j, s in zip(row.indices, row.data):
            if j > i and j not in removed and s >= f.near_threshold:
                removed.add(j)
                live[j].dropped = f"near-duplicate ({s:.2f}) of {live[i].key}"
                live[j].scores["near_duplicate"] = round(float(s), 6)


def _cartography(rows: list[Candidate], c: ir.Cartography) -> None:
    """Swayamdipta et al. 2020 with a linear student: p(intended label) after each SGD epoch;
    confidence = its mean; keep the top `keep` fraction by confidence within each label."""
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
        members = [r for r in rows if r.label == lb]
        cut = np.quantile([r.scores["confidence"] for r in members], 1 - c.keep)
        for r in members:
            if r.scores["confidence"] < cut:
                r.dropped = f"cartography confidence {r.scores['confidence']:.3f} < {cut:.3f}"
