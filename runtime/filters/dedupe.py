"""Exact and near-duplicate removal; the earlier row wins."""

from __future__ import annotations

from synthc.runtime.filters.shingles import normalize
from synthc.runtime.prompting.postprocess import Candidate

__all__ = ["dedupe"]


def dedupe(rows: list[Candidate], mode: str, threshold: float) -> None:
    """Mark `dedupe.exact` (same normalised text) and, for mode "near", `dedupe.near` (character
    3-5-gram TF-IDF cosine >= threshold: robust to small edits)."""
    seen: dict[str, str] = {}
    for r in rows:
        n = normalize(r.text)
        if n in seen:
            r.drop("dedupe.exact", f"duplicate of {seen[n]}")
        else:
            seen[n] = r.key
    if mode != "near":
        return
    live = [r for r in rows if r.dropped is None]
    if len(live) < 2:
        return
    from sklearn.feature_extraction.text import TfidfVectorizer

    x = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit_transform([normalize(r.text) for r in live])
    sims = (x @ x.T).tocsr()
    removed: set[int] = set()
    for i in range(len(live)):
        if i in removed:
            continue
        row = sims.getrow(i)
        for j, s in zip(row.indices, row.data):
            if j > i and j not in removed and s >= threshold:
                removed.add(j)
                live[j].drop("dedupe.near", f"near-duplicate ({s:.2f}) of {live[i].key}")
                live[j].scores["near_duplicate"] = round(float(s), 6)
