"""Data a student learns from: the best recipe per dataset, built on the default model and judged
by a student trained on it and tested on real data (issue 14's measured goal).

    python bench/quality.py                                   # all eight datasets, the recipes' N (long)
    python bench/quality.py --datasets ag_news,imdb --set per_label=20
    python bench/quality.py --backend fake --set per_label=3  # the deterministic stand-in (fast)
    python bench/quality.py --smoke                           # tiny: two datasets on the fake backend (a test runs it)

For each dataset under data/ with a corpus or train split there is one recipe,
bench/quality/<dataset>.synth (SynthesizRR-style retrieval-augmented rewrites in chat mode; see
bench/quality/README.md). The bench copies it into a workspace under --out (beside a link to the
repository's data, so its relative paths hold), runs `synthc.build` on it — generation, filters,
export, then the recipe's own `evaluate` block — and reads the evaluation's report JSON and the
export's manifest. It prints, per dataset:

  kept        rows kept after parsing and filters, per label (the manifest's counts; `short` when
              a label's quota was not met within the recipe's `attempts` budget)
  label pres. label preservation: accuracy of the evaluation's oracle (trained on the full train
              split, independent of the filter's label_oracle)
  synth       macro-F1 of the student trained on the synthetic rows only (mean over the seeds)
  gold N      the same student on real train rows sampled to the same N: the upper reference
  ratio       synth / gold N                       (goal: >= 0.70 on ag_news, imdb, sms_spam)
  gold-10     the student on 10 real rows per label
  +synth      the student on those 10 per label plus the synthetic rows
                                                   (goal: +synth > gold-10 on >= 6 of 8 datasets)

Every F1 is the mean over the evaluation's seeds, printed with its spread (± std). A difference
smaller than the seeds' spread is marked `~` (a tie, not a win). Nothing is tuned on the test
split: the recipes' choices were made on train (seeds, oracle) and the corpora only.

Time: the recipes' own N (20 kept rows per label, at most 4 × 20 requests per label — at 8 the
gold-same-N reference is too weak to judge and gold-10 + synthetic beat gold-10 on 4 of 8 only)
keeps the eight builds within about 10 minutes with `--jobs 2` on 2 idle CPU cores (measured:
see bench/quality/README.md for the command, date and wall time of the latest run). Reruns reuse
the generation cache in --out, so only changed requests are generated again.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPES = os.path.join("bench", "quality")
DATASETS = ("ag_news", "imdb", "sms_spam", "financial_phrasebank", "sarcasm_headlines", "humor_colbert",
            "tweeteval_emotion", "tweeteval_irony")
RATIO_GOAL = 0.70
RATIO_DATASETS = ("ag_news", "imdb", "sms_spam")
HELP_GOAL = 6  # of the eight datasets
SMOKE = {"datasets": ("sms_spam", "financial_phrasebank"), "per_label": "3"}

# (key, header) of the printed table, in order; `Figures.cells()` fills them
COLUMNS = (("dataset", "dataset"), ("kept", "kept (per label)"), ("label_preservation", "label pres."),
           ("synthetic", "synth F1"), ("gold_same_n", "gold N F1"), ("ratio", "ratio"),
           ("gold_k", "gold-10 F1"), ("gold_k_plus_synthetic", "+synth F1"), ("delta", "Δ"))


@dataclass
class Score:
    """A student's macro-F1 over the evaluation's seeds."""
    mean: float | None
    std: float | None = None
    runs: tuple[float, ...] = ()

    def text(self) -> str:
        if self.mean is None:
            return "–"
        return f"{self.mean:.3f}" + (f"±{self.std:.3f}" if self.std is not None else "")


@dataclass
class Figures:
    dataset: str
    kept: dict[str, int] = field(default_factory=dict)
    quota_met: bool | None = None
    label_preservation: float | None = None
    lp_note: str = ""
    synthetic: Score = field(default_factory=lambda: Score(None))
    gold_same_n: Score = field(default_factory=lambda: Score(None))
    gold_k: Score = field(default_factory=lambda: Score(None))
    gold_k_plus_synthetic: Score = field(default_factory=lambda: Score(None))
    k: int = 10
    seconds: float = 0.0
    summary: str = ""  # the build's own summary line (generated vs cached requests)

    @property
    def ratio(self) -> float | None:
        s, g = self.synthetic.mean, self.gold_same_n.mean
        return None if s is None or not g else s / g

    @property
    def delta(self) -> float | None:
        a, b = self.gold_k_plus_synthetic.mean, self.gold_k.mean
        return None if a is None or b is None else a - b

    def helps(self) -> bool | None:
        """gold-k + synthetic above gold-k; None when either is missing."""
        d = self.delta
        return None if d is None else d > 0

    def beyond_spread(self) -> bool:
        """Δ exceeds the seeds' spread: the standard deviation of the per-seed paired differences
        (each seed trains both students on the same gold-k sample), or, without per-seed runs, the
        larger of the two students' standard deviations."""
        if self.delta is None:
            return False
        a, b = self.gold_k.runs, self.gold_k_plus_synthetic.runs
        if len(a) == len(b) and len(a) > 1:
            spread = statistics.stdev(y - x for x, y in zip(a, b))
        else:
            spread = max(self.gold_k.std or 0.0, self.gold_k_plus_synthetic.std or 0.0)
        return abs(self.delta) > spread

    def cells(self) -> dict[str, str]:
        kept = "/".join(str(n) for _, n in sorted(self.kept.items())) if self.kept else "–"
        total = sum(self.kept.values())
        d = self.delta
        return {
            "dataset": self.dataset,
            "kept": f"{total} ({kept})" + ("" if self.quota_met in (None, True) else " short"),
            "label_preservation": "–" if self.label_preservation is None
            else f"{self.label_preservation:.3f}{self.lp_note}",
            "synthetic": self.synthetic.text(),
            "gold_same_n": self.gold_same_n.text(),
            "ratio": "–" if self.ratio is None else f"{self.ratio:.2f}",
            "gold_k": self.gold_k.text(),
            "gold_k_plus_synthetic": self.gold_k_plus_synthetic.text(),
            "delta": "–" if d is None else f"{d:+.3f}" + ("" if self.beyond_spread() else " ~"),
        }

    def as_json(self) -> dict[str, Any]:
        def score(s: Score) -> dict[str, Any]:
            return {"mean": s.mean, "std": s.std, "runs": list(s.runs)}

        return {"dataset": self.dataset, "build": self.summary, "kept": self.kept, "quota_met": self.quota_met,
                "label_preservation": self.label_preservation, "synthetic": score(self.synthetic),
                "gold_same_n": score(self.gold_same_n), "ratio": self.ratio, "k": self.k,
                "gold_k": score(self.gold_k), "gold_k_plus_synthetic": score(self.gold_k_plus_synthetic),
                "delta": self.delta, "delta_beyond_spread": self.beyond_spread(), "seconds": round(self.seconds, 1)}


# -- building ------------------------------------------------------------------------------------

def workspace(out: str, dataset: str) -> str:
    """OUT/<dataset>/: the recipe at its repository path beside a link to the repository's data, so
    its relative paths hold; kept between runs (its .synthc/ cache makes reruns incremental)."""
    ws = os.path.join(out, dataset)
    recipe = os.path.join(ws, RECIPES, f"{dataset}.synth")
    os.makedirs(os.path.dirname(recipe), exist_ok=True)
    shutil.copy(os.path.join(ROOT, RECIPES, f"{dataset}.synth"), recipe)
    link = os.path.join(ws, "data")
    if not os.path.islink(link):
        os.symlink(os.path.join(ROOT, "data"), link)
    with open(os.path.join(ws, "synth.toml"), "w", encoding="utf-8") as fh:  # the link leads out of ws
        fh.write(f'[paths]\nallow = ["{os.path.join(ROOT, "data")}"]\n')
    return recipe


def build(dataset: str, out: str, overrides: dict[str, str], backend: str) -> Figures:
    """Build the dataset's recipe (its evaluation included) and read the figures it reports."""
    import synthc
    from synthc.compiler import compile_or_raise

    recipe = workspace(out, dataset)
    program = compile_or_raise(recipe, overrides).program
    assert program.evaluations and program.exports, f"{dataset}: the recipe needs an export and an evaluate block"
    t0 = time.perf_counter()
    summary = synthc.build(recipe, overrides=overrides, backend=backend, quiet=True)
    seconds = time.perf_counter() - t0
    base = os.path.dirname(recipe)
    ev = program.evaluations[0]
    with open(os.path.join(base, ev.path, "metrics.json"), encoding="utf-8") as fh:
        metrics = json.load(fh)
    export_dir = os.path.dirname(os.path.join(base, program.exports[0].path))
    with open(os.path.join(export_dir, "manifest.json"), encoding="utf-8") as fh:
        manifest = json.load(fh)
    fig = figures(dataset, metrics, manifest)
    fig.seconds, fig.summary = seconds, summary.strip().splitlines()[0] if summary.strip() else ""
    return fig


# -- reading the evaluation's report -------------------------------------------------------------

def _score(entry: Any) -> Score:
    """A student entry of the report: {macro_f1: {mean, std, runs}} (or None)."""
    if not isinstance(entry, dict):
        return Score(None)
    f1 = entry.get("macro_f1", entry)
    if not isinstance(f1, dict) or f1.get("mean") is None:
        return Score(None)
    runs = tuple(float(x) for x in f1.get("runs", ()) if x is not None and not math.isnan(float(x)))
    return Score(float(f1["mean"]), None if f1.get("std") is None else float(f1["std"]), runs)


def figures(dataset: str, metrics: dict[str, Any], manifest: dict[str, Any]) -> Figures:
    """The bench's figures from one evaluation report and the export's manifest (one variant).
    Students: the report's primary student (`students.primary`), each of its four training sets
    (`synthetic`, `gold_same_n`, `gold_k`, `gold_k_plus_synthetic`) with macro-F1 runs per seed."""
    (variant, entry), = [(n, d) for n, d in metrics["datasets"].items() if not d.get("reference")]
    fig = Figures(dataset)
    fig.kept = dict(manifest.get("counts", {}).get(variant, {}).get("per_label", {}) or entry.get("labels", {}))
    quota = manifest.get("quota", {}).get(variant)
    if isinstance(quota, dict) and quota:
        fig.quota_met = all(q.get("met", True) for q in quota.values())
    lp = entry.get("label_preservation") or {}
    fig.label_preservation = lp.get("accuracy")
    if lp.get("by_construction") or lp.get("independent") is False:
        fig.lp_note = " (by construction)"
    info = metrics.get("students") or {}
    student = (entry.get("students") or {}).get(info.get("primary") or "", {})
    if not student:  # a report from before students were keyed by kind (one TF-IDF student)
        student = {"synthetic": entry.get("student"), "gold_same_n": entry.get("gold_same_n"),
                   "gold_k": entry.get("gold_k"), "gold_k_plus_synthetic": entry.get("gold_k_plus_synthetic")}
    fig.k = int(info.get("gold_k") or fig.k)
    fig.synthetic = _score(student.get("synthetic"))
    fig.gold_same_n = _score(student.get("gold_same_n"))
    fig.gold_k = _score(student.get("gold_k"))
    fig.gold_k_plus_synthetic = _score(student.get("gold_k_plus_synthetic"))
    return fig


# -- the table and the goals ---------------------------------------------------------------------

def table(rows: list[Figures]) -> list[str]:
    """A Markdown table, padded so it also reads in a terminal."""
    cells = [dict(COLUMNS)] + [r.cells() for r in rows]
    width = {k: max(len(c[k]) for c in cells) for k, _ in COLUMNS}
    lines = ["| " + " | ".join(c[k].ljust(width[k]) for k, _ in COLUMNS) + " |" for c in cells]
    lines.insert(1, "|" + "|".join("-" * (width[k] + 2) for k, _ in COLUMNS) + "|")
    return lines


def goals(rows: list[Figures]) -> list[str]:
    by = {r.dataset: r for r in rows}
    out = []
    judged = [d for d in RATIO_DATASETS if d in by]
    if judged:
        held = [d for d in judged if (by[d].ratio or 0.0) >= RATIO_GOAL]
        shown = ", ".join(f"{d} {by[d].ratio:.2f}" if by[d].ratio is not None else f"{d} –" for d in judged)
        out.append(f"goal synth >= {RATIO_GOAL:.0%} of gold same-N on {', '.join(RATIO_DATASETS)}: "
                   f"{'HELD' if len(held) == len(RATIO_DATASETS) else 'not held'} ({shown}"
                   f"{'' if len(judged) == len(RATIO_DATASETS) else '; not all datasets run'})")
    helped = [r.dataset for r in rows if r.helps()]
    clear = [r.dataset for r in rows if r.helps() and r.beyond_spread()]
    k = rows[0].k if rows else 10
    out.append(f"goal gold-{k} + synthetic > gold-{k} on >= {HELP_GOAL} of {len(DATASETS)}: "
               f"{'HELD' if len(helped) >= HELP_GOAL else 'not held'} ({len(helped)} of {len(rows)} run: "
               f"{', '.join(helped) or 'none'}; beyond the seeds' spread: {len(clear)})")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", help=f"comma-separated subset of {', '.join(DATASETS)}")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="recipe param override for every recipe (e.g. per_label=20)")
    ap.add_argument("--backend", choices=("llama", "fake"), default="llama",
                    help="llama: the embedded default model; fake: the deterministic stand-in")
    ap.add_argument("--threads", type=int, default=1,
                    help="llama.cpp threads per build (default 1; sets the recipes' `threads` param). Its threads "
                         "spin at every barrier: on a shared or busy machine one thread is far faster (measured "
                         "here at load 14 on 2 cores: 13.7 tok/s with 1 thread, 0.27 with 2)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="datasets built at once, each in its own process (default 1; 2 on two free cores)")
    ap.add_argument("--out", help="workspaces, caches, datasets and reports (default out/bench-quality; "
                                   "--smoke: a temporary folder, removed)")
    ap.add_argument("--smoke", action="store_true",
                    help=f"tiny: {', '.join(SMOKE['datasets'])} at per_label={SMOKE['per_label']} on the fake backend")
    args = ap.parse_args(argv)
    chosen = tuple(args.datasets.split(",")) if args.datasets else DATASETS
    overrides = dict(s.split("=", 1) for s in args.set)
    overrides.setdefault("threads", str(args.threads))
    backend = args.backend
    if args.smoke:
        chosen, backend = SMOKE["datasets"], "fake"
        overrides.setdefault("per_label", SMOKE["per_label"])
    unknown = [d for d in chosen if d not in DATASETS]
    if unknown:
        ap.error(f"unknown dataset(s): {', '.join(unknown)} (choose from {', '.join(DATASETS)})")
    shown = "".join(f" --set {k}={v}" for k, v in sorted(overrides.items()))
    print(f"bench/quality: {len(chosen)} recipe(s) from {RECIPES}/,{shown or ' their own N'}, backend {backend}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    out = args.out or (tempfile.mkdtemp(prefix="synthc-bench-quality-") if args.smoke
                       else os.path.join(ROOT, "out", "bench-quality"))
    try:
        return run(chosen, out, overrides, backend, args.jobs)
    finally:
        if args.smoke and not args.out:
            shutil.rmtree(out, ignore_errors=True)


def run(chosen: tuple[str, ...], out: str, overrides: dict[str, str], backend: str, jobs: int = 1) -> int:
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    done: dict[str, Figures] = {}
    if jobs > 1:  # one process per build: each loads its own model, nothing is shared but the data
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(build, name, out, overrides, backend): name for name in chosen}
            for fut in as_completed(futures):
                fig = done[futures[fut]] = fut.result()
                print(f"  {fig.dataset}: {fig.seconds:.0f} s; {fig.summary}", flush=True)
    else:
        for name in chosen:
            fig = done[name] = build(name, out, overrides, backend)
            print(f"  {name}: {fig.seconds:.0f} s; {fig.summary}", flush=True)
    rows = [done[name] for name in chosen]
    print()
    print("\n".join(table(rows)))
    print()
    print("macro-F1 mean±std over the evaluation's seeds; Δ = +synth − gold-10 (`~`: within the seeds' spread)")
    print("\n".join(goals(rows)))
    total = time.perf_counter() - t0
    print(f"wall time {total / 60:.1f} min")
    with open(os.path.join(out, "quality.json"), "w", encoding="utf-8") as fh:
        json.dump({"backend": backend, "overrides": overrides, "seconds": round(total, 1),
                   "datasets": [r.as_json() for r in rows], "goals": goals(rows)}, fh, indent=2, sort_keys=True)
        fh.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
