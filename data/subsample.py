"""Make the repository's data/ folders from the full staged datasets (see data/README.md).

    python data/subsample.py SOURCE_DIR [DEST_DIR]

SOURCE_DIR holds the full staged datasets (one folder per dataset, JSONL files and meta.json, as
described in data/README.md); DEST_DIR defaults to this folder. Nothing in the repository runs this
script: it documents, as code, exactly how every file under data/ was cut, and rerunning it on the
same source gives byte-identical files.

Rules (deterministic, no hidden state):
- every sample draws from `random.Random(SEED + sha256(source file))`, so identical source files get
  identical samples (the two TweetEval corpora stay identical, as in the source);
- labelled files: proportional stratified sample (per-label quotas proportional to the file's label
  mix, largest-remainder rounding), rows kept in their source order;
- corpus files: a uniform random sample, rows kept in their source order;
- stackexchange: a proportional sample of questions per (community, split) — the time-based split is
  kept — with every answer of a kept question, and the users who asked or answered them (their
  n_questions / n_answers recounted within the sample).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
from collections import Counter, defaultdict

SEED = "20240611"

# rows per file: (train, test, corpus). ag_news is larger because bench/metrics.py measures on
# 5,000 real texts (train + test + corpus); IMDB reviews average 1.3 KB, so fewer rows.
SIZES: dict[str, tuple[int, int, int]] = {
    "ag_news": (1000, 500, 3500),
    "imdb": (400, 200, 600),
    "sms_spam": (500, 300, 1000),
    "financial_phrasebank": (500, 300, 1000),
    "sarcasm_headlines": (500, 300, 1000),
    "humor_colbert": (500, 300, 1000),
    "tweeteval_emotion": (500, 300, 1000),
    "tweeteval_irony": (500, 300, 1000),
}
STACKEXCHANGE = {"train": 400, "test": 160}  # questions per split


def _rng(path: str) -> random.Random:
    with open(path, "rb") as fh:
        return random.Random(SEED + hashlib.sha256(fh.read()).hexdigest())


def _read(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _write(path: str, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def quotas(counts: dict[str, int], n: int) -> dict[str, int]:
    """Largest-remainder apportionment of n over the classes, proportional to counts."""
    total = sum(counts.values())
    exact = {k: n * c / total for k, c in counts.items()}
    out = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: (-(exact[k] - out[k]), k))[: n - sum(out.values())]:
        out[k] += 1
    return out


def stratified(rows: list[dict], key: str, n: int, rng: random.Random) -> list[dict]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[str(r[key])].append(i)
    q = quotas({k: len(v) for k, v in groups.items()}, min(n, len(rows)))
    keep = {i for k in sorted(groups) for i in rng.sample(groups[k], q[k])}
    return [r for i, r in enumerate(rows) if i in keep]


def uniform(rows: list[dict], n: int, rng: random.Random) -> list[dict]:
    keep = set(rng.sample(range(len(rows)), min(n, len(rows))))
    return [r for i, r in enumerate(rows) if i in keep]


def classification(src: str, dest: str, name: str) -> dict:
    meta = json.load(open(os.path.join(src, name, "meta.json"), encoding="utf-8"))
    os.makedirs(os.path.join(dest, name), exist_ok=True)
    files: dict[str, dict] = {}
    for fname, n in zip(("train.jsonl", "test.jsonl", "corpus.jsonl"), SIZES[name]):
        path = os.path.join(src, name, fname)
        if not os.path.exists(path):
            continue
        rows = _read(path)
        rng = _rng(path)
        out = uniform(rows, n, rng) if fname == "corpus.jsonl" else stratified(rows, "label", n, rng)
        _write(os.path.join(dest, name, fname), out)
        info: dict = {"rows": len(out), "source_rows": len(rows)}
        if fname == "corpus.jsonl":
            info["labeled"] = False
        else:
            info["label_counts"] = dict(sorted(Counter(r["label"] for r in out).items()))
        files[fname] = info
    return {"name": name, "labels": meta["labels"], "files": files, "subsample": _rule()}


def stackexchange(src: str, dest: str) -> dict:
    d = os.path.join(src, "stackexchange")
    qpath = os.path.join(d, "questions.jsonl")
    questions, answers, users = (_read(os.path.join(d, f)) for f in ("questions.jsonl", "answers.jsonl", "users.jsonl"))
    rng = _rng(qpath)
    kept: list[dict] = []
    for split, n in STACKEXCHANGE.items():
        in_split = [q for q in questions if q["split"] == split]
        kept_ids = {q["id"] for q in stratified(in_split, "community", n, rng)}
        kept += [q for q in in_split if q["id"] in kept_ids]
    order = {q["id"]: i for i, q in enumerate(questions)}
    kept.sort(key=lambda q: order[q["id"]])
    qids = {q["id"] for q in kept}
    ans = [a for a in answers if a["question_id"] in qids]
    asked = Counter(q["asker_id"] for q in kept if q.get("asker_id"))
    answered = Counter(a["author_id"] for a in ans if a.get("author_id"))
    us = [dict(u, n_questions=asked[u["id"]], n_answers=answered[u["id"]]) for u in users
          if u["id"] in asked or u["id"] in answered]
    os.makedirs(os.path.join(dest, "stackexchange"), exist_ok=True)
    for fname, rows in (("questions.jsonl", kept), ("answers.jsonl", ans), ("users.jsonl", us)):
        _write(os.path.join(dest, "stackexchange", fname), rows)
    return {"name": "stackexchange", "files": {
        "questions.jsonl": {"rows": len(kept), "splits": dict(sorted(Counter(q["split"] for q in kept).items())),
                            "communities": dict(sorted(Counter(q["community"] for q in kept).items())),
                            "source_rows": len(questions)},
        "answers.jsonl": {"rows": len(ans), "splits": dict(sorted(Counter(a["split"] for a in ans).items())),
                          "accepted": sum(1 for a in ans if a.get("is_accepted")), "source_rows": len(answers)},
        "users.jsonl": {"rows": len(us), "source_rows": len(users)}}, "subsample": _rule()}


def _rule() -> str:
    return f"data/subsample.py, seed {SEED} + sha256 of each source file"


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    src = argv[0]
    dest = argv[1] if len(argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    metas = [classification(src, dest, name) for name in SIZES] + [stackexchange(src, dest)]
    for meta in metas:
        with open(os.path.join(dest, meta["name"], "meta.json"), "w", encoding="utf-8", newline="\n") as fh:
            json.dump(meta, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
