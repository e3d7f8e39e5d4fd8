"""Paired comparisons, chance levels and verdicts: what may be called a win (runtime/eval/stats.py,
runtime/eval/verdict.py), on hand-made per-seed scores."""

from __future__ import annotations

import pytest

from synthc.runtime.eval import stats
from synthc.runtime.eval.report import WIDTH, table_text
from synthc.runtime.eval.verdict import verdict

# (a runs, b runs, verdict): a win needs the 95% interval to exclude 0 AND the seeds' spread to be beaten
CASES = [
    ([0.70, 0.71, 0.72, 0.70, 0.71], [0.60, 0.61, 0.60, 0.62, 0.61], "a"),
    ([0.60, 0.61, 0.60, 0.62, 0.61], [0.70, 0.71, 0.72, 0.70, 0.71], "b"),
    ([0.70, 0.60, 0.75, 0.58, 0.72], [0.68, 0.579, 0.731, 0.56, 0.698], "tie"),  # consistent, within spread
    ([0.70, 0.62, 0.71, 0.60, 0.66], [0.66, 0.64, 0.69, 0.63, 0.65], "tie"),  # interval includes 0
    ([0.7], [0.5], "tie"),  # one seed: no spread to judge by
]


@pytest.mark.parametrize("a,b,want", CASES)
def test_paired_verdicts(a: list[float], b: list[float], want: str) -> None:
    got = stats.paired("a", "b", a, b)
    assert got["verdict"] == want, got
    assert got["diffs"] == [round(x - y, 6) for x, y in zip(a, b)]


def test_sign_flip_p_is_exact() -> None:
    got = stats.paired("a", "b", [0.8] * 5, [0.5, 0.51, 0.49, 0.5, 0.52])
    assert got["p_sign_flip"] == 2 / 32  # all five differences positive: the two extreme sign patterns


def test_chance_macro_f1() -> None:
    assert stats.chance_macro_f1(["x", "y", "z", "w"] * 25) == pytest.approx(0.25)
    # imbalanced: "always x" scores 2·0.9/1.9 / 2 on x's F1 averaged over 2 labels
    assert stats.chance_macro_f1(["x"] * 90 + ["y"] * 10) == pytest.approx((2 * 0.9 / 1.9) / 2)
    assert stats.at_chance({"mean": 0.26, "std": 0.01}, 0.25)
    assert not stats.at_chance({"mean": 0.40, "std": 0.03}, 0.25)


def _metrics(scores: dict[str, list[float]], flags: dict[str, dict] | None = None) -> dict:
    names = list(scores)
    datasets = {n: {"rows": 40, "flags": (flags or {}).get(n, {}),
                    "students": {"tfidf_lr": {"synthetic": {"macro_f1": stats.spread(r)}}}} for n, r in scores.items()}
    comps = [{"student": "tfidf_lr"} | stats.paired(a, b, scores[a], scores[b])
             for i, a in enumerate(names) for b in names[i + 1:]]
    return {"datasets": datasets, "comparisons": comps, "seeds": [0, 1, 2, 3, 4],
            "students": {"primary": "tfidf_lr"}}


def test_verdict_names_a_winner_only_beyond_the_spread() -> None:
    good, bad = [0.70, 0.71, 0.72, 0.70, 0.71], [0.60, 0.61, 0.60, 0.62, 0.61]
    v = verdict(_metrics({"good": good, "bad": bad}))
    assert v["winner"] == "good" and v["text"].startswith("Best data: `good`")
    v = verdict(_metrics({"x": good, "y": [g + 0.001 for g in good]}))
    assert v["winner"] is None and "ties are not wins" in v["text"]
    v = verdict(_metrics({"good": good, "bad": bad}, {"bad": {"at_chance": ["tfidf_lr"], "too_small": True,
                                                              "labels_below_minimum": ["x"], "min_rows_per_label": 5}}))
    assert "`bad` student at chance (tfidf_lr)" in v["text"] and "`bad` too small" in v["text"]
    # Ahead beyond the spread but itself at chance (specs/li2023_imdb.synth at per_label 6 did this): no winner.
    v = verdict(_metrics({"good": good, "bad": bad}, {"good": {"at_chance": ["tfidf_lr"]}}))
    assert v["winner"] is None and v["text"].startswith("No winner") and "`good` student at chance" in v["text"]
    v = verdict(_metrics({"good": good, "bad": bad}, {"good": {"too_small": True, "min_rows": 5}}))
    assert v["winner"] is None and "too small to judge" in v["text"]
    # Three datasets, one too small: its pairs are not listed as separated (specs/synthesizrr_imdb.synth at
    # per_label 2 listed seven "separated" pairs of 1-4 row datasets whose zero spread separates anything).
    twin = [g + 0.001 for g in good]
    v = verdict(_metrics({"good": good, "twin": twin, "tiny": [0.2] * 5}, {"tiny": {"too_small": True, "min_rows": 5}}))
    assert v["winner"] is None and "no pair is separated beyond the seeds' spread" in v["text"]
    assert "2 more with a dataset too small to judge" in v["text"]


def test_retrieval_verdict_weighs_fused_ndcg_not_diversity() -> None:
    def run(ndcg: float, better: list[str]) -> dict:
        return {"metrics": {"nDCG@10": ndcg}, "significantly_better_than": {"nDCG@10": better}}

    m = {"datasets": {"title_only": {}, "context": {}}, "ir": {"runs": {
        "BM25 + bi-encoder(title_only)": run(0.30, []),
        "BM25 + bi-encoder(context)": run(0.34, [])}}}
    v = verdict(m)
    assert v["winner"] is None and "`context` 0.3400, `title_only` 0.3000" in v["text"]
    m["ir"]["runs"]["BM25 + bi-encoder(context)"] = run(0.34, ["BM25 + bi-encoder(title_only)"])
    assert verdict(m)["winner"] == "context"


def test_the_table_fits_a_laptop_screen() -> None:
    names = [f"SynthesizRR_variant_{i}" for i in range(9)]
    summary = {"columns": [{"key": "rows", "title": "rows", "better": ""},
                           {"key": "f1", "title": "tfidf_lr gold-k + synth.", "better": ""}],
               "rows": {n: {"rows": 100, "f1": {"mean": 0.7, "std": 0.01}} for n in names}, "best": {}}
    text = table_text(summary)
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    assert all(n in text for n in names) and "0.700±0.010" in text
