"""Does the LLM judge agree with the label oracle? Measured on the quickstart's rows.

    python bench/judge.py [--per-label 6] [--attempts 1] [--workdir DIR] [--real 0] [--shapes 0] [--backend llama] [--smoke]

Builds a scratch copy of examples/quickstart.synth (its label oracle set to `drop = false`, so
every row the other filters keep carries its oracle score), then asks the judge — the build's own
request (runtime/prompting/judge.py: the rubric below, a `select` over 1..5, greedy) on the recipe's model —
to score each row twice: with its intended label and with the other label. It prints the score
distribution, the agreement of "judge keeps (>= 4)" with "the oracle passes it" (and Cohen's
kappa), the Spearman correlation of judge score and oracle probability, and how often the judge
scores a row higher under its own label than under the wrong one. Figures, no timed assertions;
`--real N` also judges N real IMDb test reviews per label (the shortest; labels known), with
their true and with the wrong label: a label-blind judge keeps both alike. `--attempts 1` (the default) keeps the first round's rows only (no quota rounds: a 135M model on a
shared 2-core machine writes about one row a minute); `--workdir` keeps the scratch project and
its cache, so a rerun reuses every generation. `--smoke` (fake backend, 2 rows per label) is what
tests/test_bench_smoke.py runs.

Measured 2026-12-06 (`--per-label 6`, shared 2-core machine, load average 19-22): 6 rows kept of
12 generated; SmolLM2-135M-Instruct as its own judge answered 1 to all 12 requests (own and wrong
label): judge keeps 0 of 6, the oracle passes 6 of 6, agreement 0.000, kappa 0, no label
sensitivity. The embedded model is no judge; the filter is for larger models.

`--shapes N` asks N real reviews per label a bare yes/no question instead (a `select` over yes/no;
P(yes) from the answer's log-probability) and prints how well P(yes) separates the true from the
wrong label (AUC; 0.5 is chance). Measured 2026-12-07 (10 shortest reviews per label, cut at 600
characters, shared 2-core machine at load average 9-10; a one-off script with the same prompts as
`--real 10 --shapes 10`, 469 s and 389 s): the 1..5 rubric request answered 1 to all 40 requests
(true and wrong label alike); yes/no answered yes 9 of 20 with the true label and 11 of 20 with
the wrong one, P(yes) AUC 0.512, mean P(yes) 0.549 vs 0.453. No prompt shape makes SmolLM2-135M a
judge; the student question (do judged rows train a better one) needs a judge that keeps rows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "data")
RUBRIC = ("A good row is a movie review whose sentiment clearly matches the intended label: "
          "a positive label needs a review that praises the movie, a negative label one that criticises it.")


def _recipe(tmp: str, per_label: int, attempts: int) -> str:
    with open(os.path.join(ROOT, "examples", "quickstart.synth"), encoding="utf-8") as fh:
        text = fh.read().replace('"../data/', '"' + os.path.join(DATA, "")).replace('"../out/', '"out/')
    text = text.replace("param per_label = 8", f"param per_label = {per_label}")
    text = text.replace("      calibrate  = 0.1", "      calibrate  = 0.1\n      drop       = false")
    text = text.replace("  per_label = per_label\n", f"  per_label = per_label\n  attempts  = {attempts}\n")
    assert "drop       = false" in text and "attempts  =" in text, "the quickstart changed: update bench/judge.py"
    path = os.path.join(tmp, "quickstart.synth")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    with open(os.path.join(tmp, "synth.toml"), "w", encoding="utf-8") as fh:
        fh.write(f'[paths]\nallow = ["{DATA}"]\n')
    return path


def _real(per_label: int) -> list[dict]:
    """The shortest `per_label` real IMDb test reviews of each label (data/imdb), in file order."""
    if per_label <= 0:
        return []
    with open(os.path.join(DATA, "imdb", "test.jsonl"), encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    out: list[dict] = []
    for label in sorted({r["label"] for r in rows}):
        mine = sorted((r for r in rows if r["label"] == label), key=lambda r: len(r["text"]))[:per_label]
        out += sorted(mine, key=lambda r: r["id"])
    return out


def _spearman(x: list[float], y: list[float]) -> float:
    def ranks(v: list[float]) -> list[float]:
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2
            i = j + 1
        return r
    rx, ry = ranks(x), ranks(y)
    if len(set(rx)) < 2 or len(set(ry)) < 2:
        return float("nan")
    return statistics.correlation(rx, ry)


def _kappa(a: list[bool], b: list[bool]) -> float:
    n = len(a)
    po = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    return float("nan") if pe == 1 else (po - pe) / (1 - pe)


def _auc(own: list[float], wrong: list[float]) -> float:
    """P(a row judged with its true label outscores one judged with the wrong label); ties count half."""
    pairs = [(a > b) + 0.5 * (a == b) for a in own for b in wrong]
    return sum(pairs) / len(pairs) if pairs else float("nan")


def _shapes(backend: object, real: list[dict]) -> None:
    """Two prompt shapes besides the build's own, on real reviews judged with their true and with
    the wrong label: the build's 1..5 scale (the rubric), and a bare yes/no question ("Is this
    review positive?", a `select` over yes/no), whose P(yes) comes from the answer's log-probability
    under the model (llama.cpp reports it unmasked: P(yes) = exp(lp) for a yes, 1 - exp(lp) for a
    no). AUC 0.5 is a judge that cannot tell the labels apart."""
    import math

    from synthc.runtime.backends.base import Constraint, Request

    def ask(text: str, label: str) -> Request:
        user = f"Review: {text[:600]}\n\nIs this review {label}? Answer yes or no."
        return Request((("user", user),), "chat", Constraint("select", options=("yes", "no")), 2, 0.0, 1.0, (), 0)

    requests = [ask(r["text"], lb) for r in real for lb in (r["label"], "negative" if r["label"] == "positive" else "positive")]
    answers = backend.generate_batch(requests)  # type: ignore[attr-defined]
    p_yes = [(math.exp(a.logprob) if a.text == "yes" else 1 - math.exp(a.logprob)) if a.logprob is not None
             else float(a.text == "yes") for a in answers]
    own, wrong = p_yes[0::2], p_yes[1::2]
    yes = [a.text == "yes" for a in answers]
    print(f"shape yes/no on {len(real)} real reviews: answers yes with the true label {sum(yes[0::2])} of {len(real)}, "
          f"with the wrong one {sum(yes[1::2])} of {len(real)}; P(yes) AUC true vs wrong {_auc(own, wrong):.3f}, "
          f"mean P(yes) {statistics.mean(own):.3f} vs {statistics.mean(wrong):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-label", type=int, default=6)
    ap.add_argument("--attempts", type=int, default=1)
    ap.add_argument("--workdir", help="scratch project folder to keep (default: a temporary one)")
    ap.add_argument("--real", type=int, default=0, help="also judge this many real IMDb test reviews per label")
    ap.add_argument("--shapes", type=int, default=0,
                    help="also ask N real IMDb reviews per label two prompt shapes a small model might follow better")
    ap.add_argument("--backend", default="llama")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    if args.smoke:
        args.per_label, args.backend, args.shapes = 2, "fake", 1

    from synthc.compiler import compile_file, ir
    from synthc.runtime import execute
    from synthc.runtime.prompting.judge import judge_request, score_of
    from synthc.runtime.models.load import ModelPool
    from synthc.runtime.prompting.postprocess import Candidate
    from synthc.runtime.prompting.rows import Planned

    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.workdir or scratch
        os.makedirs(tmp, exist_ok=True)
        result = compile_file(_recipe(tmp, args.per_label, args.attempts))
        assert result.plan is not None and result.program is not None, result.diagnostics
        print(execute(result.plan, result.sources, quiet=True, backend=args.backend))
        with open(os.path.join(tmp, "out", "quickstart", "reviews.jsonl"), encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh]
        real = _real(args.real)
        (v,) = result.program.task("reviews").variants
        j = ir.Judge(model=v.model, rubric=RUBRIC, scale=(1, 5), keep_op=">=", keep_score=4)
        labels = result.program.label_set("sentiment").names
        requests = []
        for k, r in enumerate(rows):
            for label in (r["label"], next(lb for lb in labels if lb != r["label"])):
                c = Candidate(key=f"{label}/{k}", text=r["text"], label=label, fields={}, provenance={},
                              row=Planned(key=f"{label}/{k}", label=label))
                requests.append(judge_request(j, v, result.program, c, k)[0])
        for k, r in enumerate(real):
            for label in (r["label"], next(lb for lb in labels if lb != r["label"])):
                c = Candidate(key=f"real/{label}/{k}", text=r["text"], label=label, fields={}, provenance={},
                              row=Planned(key=f"real/{label}/{k}", label=label))
                requests.append(judge_request(j, v, result.program, c, k)[0])
        backend = ModelPool(result.program, tmp, args.backend).get(v.model)
        if args.shapes:
            _shapes(backend, _real(args.shapes))
        answers = [score_of(j, a.text) for a in backend.generate_batch(requests)]
        answers, real_answers = answers[:2 * len(rows)], answers[2 * len(rows):]
    own, wrong = answers[0::2], answers[1::2]
    assert all(s is not None for s in answers), "an answer off the scale"
    oracle = [r["provenance"]["scores"]["oracle"] for r in rows]
    passes = [r["provenance"]["scores"]["oracle"] >= r["provenance"]["scores"]["oracle_threshold"] for r in rows]
    keeps = [j.keeps(s) for s in own]  # type: ignore[arg-type]
    n = len(rows)
    print(f"rows judged: {n} (quickstart, per_label {args.per_label}, backend {args.backend}, judge = {v.model})")
    print(f"judge scores, own label: {dict(sorted(Counter(own).items()))}; wrong label: "
          f"{dict(sorted(Counter(wrong).items()))}")
    print(f"oracle passes {sum(passes)} of {n}; judge keeps (>= 4) {sum(keeps)} of {n}")
    print(f"agreement judge keep vs oracle pass: {sum(a == b for a, b in zip(keeps, passes)) / n:.3f} "
          f"(Cohen's kappa {_kappa(keeps, passes):.3f})")
    print(f"spearman(judge score, oracle p): {_spearman([float(s) for s in own], oracle):.3f}")  # type: ignore[arg-type]
    higher = sum(a > b for a, b in zip(own, wrong))  # type: ignore[operator]
    same = sum(a == b for a, b in zip(own, wrong))
    print(f"own label scored higher than the wrong one: {higher} of {n} (equal: {same})")
    if real:
        true, flipped = real_answers[0::2], real_answers[1::2]
        m = len(real)
        print(f"real IMDb reviews: {m}; scores with the true label {dict(sorted(Counter(true).items()))}, "
              f"with the wrong label {dict(sorted(Counter(flipped).items()))}")
        print(f"real: judge keeps (>= 4) {sum(j.keeps(s) for s in true)} of {m} with the true label, "  # type: ignore[arg-type]
              f"{sum(j.keeps(s) for s in flipped)} of {m} with the wrong one; true scored higher "  # type: ignore[arg-type]
              f"{sum(a > b for a, b in zip(true, flipped))} of {m}")  # type: ignore[operator]


if __name__ == "__main__":
    sys.exit(main())
