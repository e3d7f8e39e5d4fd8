"""Evaluation: the papers' metrics over several datasets against real data → `metrics.json`.

Used through `run_eval()` (runtime/eval/run.py) by the `evaluate` node and by `synthc eval`. Every
number is stored with the parameters that produced it (tokenizer, embedder, seeds, students). Each
metric is a `Measure` of the registry in runtime/eval/measures/ (the compiler's half, its name and
settings, is compiler/metrics/); this module runs the wanted ones over every dataset with the
resources they share (`Run`) and builds the side-by-side table from their columns. A metric that
cannot be computed here (a package or a field is missing) is listed under `unavailable` with the
reason — never given a made-up number. Students are trained once per seed
(runtime/eval/students.py) and compared in pairs over the same seeds (runtime/eval/stats.py); the
verdict (runtime/eval/verdict.py) names a winner only where a difference exceeds the seeds' spread.
When a gold train split is given, a `real` reference entry (gold sampled to the largest dataset's
N, seed 0) is measured for the diversity metrics alongside, as Li et al. compare to real.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from synthc.compiler.metrics import NAMES, settings
from synthc.compiler.metrics.student import STUDENTS
from synthc.runtime.eval import measures
from synthc.runtime.eval import metrics as M
from synthc.runtime.eval.datasets import Dataset, distribution
from synthc.runtime.eval.stats import chance_macro_f1, paired

__all__ = ["Options", "Evaluation", "Run", "evaluate", "METRICS_SCHEMA_VERSION", "ALL_METRICS", "REFERENCE"]

METRICS_SCHEMA_VERSION = 3
ALL_METRICS = NAMES  # the names a spec's `evaluate.metrics` accepts; one list for both
REFERENCE = "real (gold train)"


@dataclass(frozen=True, slots=True)
class Options:
    """What one evaluation measures and how: the metric registry's settings by their names (their
    defaults are the `evaluate` block's; a test keeps them equal), and fixed rules below them."""

    metrics: tuple[str, ...] = ALL_METRICS
    students: tuple[str, ...] = STUDENTS  # the first is the one verdicts use
    seeds: int = 5
    embedder: str = "auto"  # auto | minilm | tfidf_svd
    self_bleu_sample: int | None = None  # hypotheses averaged; None = exact over all
    mauve_buckets: int = 30  # SynthesizRR's setting; capped by N/5 on small sets
    gold_plus_synthetic: bool = False  # also gold at the same N + synthetic
    gold_k: int = 10  # gold rows per label for `gold_k` and `gold_k_plus_synthetic`
    min_rows_per_label: int = 5  # a labelled dataset with fewer rows for some label is flagged too_small
    min_rows: int = 20  # an unlabelled (QA-pair) dataset with fewer rows is flagged too_small

    @classmethod
    def of(cls, metrics: Sequence[str], source: Any) -> Options:
        """The options of an `ir.Evaluate` or of `synthc eval`'s parsed arguments alike: every
        evaluation setting the metric registry declares (compiler/metrics/) is read by its name."""
        names = {f.name for f in dataclasses.fields(cls)}
        given = {f.name: getattr(source, f.name) for f in settings() if f.name in names and hasattr(source, f.name)}
        return cls(metrics=tuple(metrics), **given)


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)  # plot data for the report, not stored


def evaluate(datasets: Sequence[Dataset], real: Dataset, train: Dataset | None, opts: Options,
             log: Callable[[str], None] = lambda _: None) -> Evaluation:
    ev = Run(real, train, opts, log)
    entries = list(datasets)
    if train is not None and train.texts and datasets:
        n = min(len(train.texts), max(len(d.texts) for d in datasets))
        idx = sorted(random.Random(0).sample(range(len(train.texts)), n))
        entries.append(Dataset(REFERENCE, tuple(train.texts[i] for i in idx), tuple(train.labels[i] for i in idx)))
    out: dict[str, Any] = {
        "schema_version": METRICS_SCHEMA_VERSION,
        "seeds": list(range(opts.seeds)),
        "real": {"rows": len(real.texts), "labels": distribution(real.labels)},
        "train": {"rows": len(train.texts)} if train else None,
        "reference": REFERENCE if train is not None and datasets else None,
        "datasets": {}, "unavailable": {},
    }
    for i, d in enumerate(entries):
        log(f"evaluating {d.name} ({len(d.texts)} rows)")
        out["datasets"][d.name] = ev.dataset(d, reference=i >= len(datasets))
    compared = [d.name for d in datasets]
    out["students"] = measures.STUDENT.info(ev)
    out["comparisons"] = _comparisons(out["datasets"], compared, out["students"]["kinds"])
    out["unavailable"] = dict(sorted(ev.unavailable.items()))
    out["parameters"] = ev.parameters
    out["summary"] = _summary(out["datasets"], compared, out["students"].get("primary"))
    return Evaluation(out, ev.figures)


def _comparisons(datasets: dict[str, Any], compared: list[str], kinds: list[str]) -> list[dict[str, Any]]:
    """Every pair of compared datasets, per student, on macro-F1 over the same seeds."""
    out = []
    for kind in kinds:
        have = [n for n in compared if kind in datasets[n].get("students", {})]
        for a, b in itertools.combinations(have, 2):
            ra = datasets[a]["students"][kind]["synthetic"]["macro_f1"]["runs"]
            rb = datasets[b]["students"][kind]["synthetic"]["macro_f1"]["runs"]
            out.append({"student": kind, "metric": "macro_f1"} | paired(a, b, ra, rb))
    return out


class Run:
    """State one evaluation shares across datasets and measures: the options, the real and train
    splits, the tokenizer and embedder (built on first use), resources a measure builds once
    (`shared`), and what it records (`unavailable`, `parameters`, `figures`)."""

    def __init__(self, real: Dataset, train: Dataset | None, opts: Options, log: Callable[[str], None]) -> None:
        self.real, self.train, self.opts, self.log = real, train, opts, log
        self.want = set(opts.metrics)
        self.unavailable: dict[str, str] = {}
        self.parameters: dict[str, Any] = {}
        self.figures: dict[str, Any] = {"projection": {}, "confusion": {}, "labels": {}}
        self.embedder: Any = None  # the semantic metrics' embedder once built (runtime/eval/embed.py)
        self._tok: Callable[[str], list[str]] | None = None
        self._shared: dict[str, Any] = {}
        self._projection: Any = None
        self._real_emb: Any = None
        self._current: tuple[int, dict[str, Any]] = (-1, {})  # the dataset being measured, its memo
        self.real_y = [str(x) for x in real.labels]
        self.chance = chance_macro_f1(self.real_y) if real.labelled else float("nan")

    # -- shared resources, built on first use -------------------------------------------------
    def shared(self, key: str, make: Callable[[], Any]) -> Any:
        """A resource built once per evaluation by `make` (an oracle, a NER pipeline, a memo)."""
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]

    def tokens(self, texts: Sequence[str]) -> list[list[str]]:
        if self._tok is None:
            self._tok, name = M.tokenizer()
            self.parameters["tokenizer"] = name
        return [self._tok(t) for t in texts]

    def embed(self, texts: Sequence[str]) -> Any:
        if self.embedder is None:
            from synthc.runtime.eval.embed import embedder

            fit = list(self.real.texts) + list(self.train.texts if self.train else ())
            self.embedder = embedder(self.opts.embedder, fit)
            self.parameters["embedder"] = self.embedder.name
        return self.embedder.encode(list(texts))

    def real_embeddings(self) -> Any:
        """The real texts' embeddings, computed once and shared by every dataset."""
        if self._real_emb is None:
            self._real_emb = self.embed(self.real.texts)
        return self._real_emb

    def _memo(self, d: Dataset) -> dict[str, Any]:
        if self._current[0] != id(d):
            self._current = (id(d), {})
        return self._current[1]

    def dataset_tokens(self, d: Dataset) -> list[list[str]]:
        """`d`'s texts tokenized, once per dataset whichever measures read them."""
        memo = self._memo(d)
        if "tokens" not in memo:
            memo["tokens"] = self.tokens(d.texts)
        return memo["tokens"]

    def dataset_embedding(self, d: Dataset) -> Any:
        """`d`'s texts embedded, once per dataset whichever measures read them."""
        memo = self._memo(d)
        if "embedding" not in memo:
            memo["embedding"] = self.embed(d.texts)
        return memo["embedding"]

    # -- one dataset -------------------------------------------------------------------------
    def dataset(self, d: Dataset, reference: bool) -> dict[str, Any]:
        labelled = d.labelled
        out: dict[str, Any] = {"rows": len(d.texts), "reference": reference}
        if labelled:
            out["labels"] = distribution(d.labels)
            self.figures["labels"][d.name] = out["labels"]
        if not reference:
            out["flags"] = self.flags(d)
        if not d.texts:
            return out
        out["mean_tokens"] = round(statistics.fmean(len(t) for t in self.dataset_tokens(d)), 3)
        wanted = measures.in_rank_order(self.want)
        # The projection is drawn right after the last measure that embeds, before the students
        # (which may share the embedder's MiniLM and its memo).
        last_embedding = max((m.rank for m in wanted if m.embeds), default=None)
        for m in wanted:
            m.measure(self, d, reference, out)
            if m.rank == last_embedding:
                self.project(d)
        if "students" in out:
            out["flags"]["at_chance"] = sorted(k for k, v in out["students"].items() if v["at_chance"])
        return out

    def project(self, d: Dataset) -> None:
        """The PCA projection (fitted on the real texts) of `d`'s embeddings, for the report."""
        import numpy as np

        real_emb = self.real_embeddings()
        if self._projection is None:
            from sklearn.decomposition import PCA

            self._projection = PCA(n_components=2, random_state=0).fit(real_emb)
            self.figures["projection"]["real (test)"] = self._projection.transform(real_emb)
        self.figures["projection"][d.name] = self._projection.transform(np.asarray(self.dataset_embedding(d)))

    def flags(self, d: Dataset) -> dict[str, Any]:
        """too_small: a label of the real split with fewer than min_rows_per_label rows here (or,
        unlabelled, fewer than min_rows rows); at_chance is filled in once students ran."""
        if d.labelled and self.real.labelled:
            have = distribution(d.labels)
            short = sorted(lab for lab in set(self.real_y) if have.get(lab, 0) < self.opts.min_rows_per_label)
            return {"too_small": bool(short), "labels_below_minimum": short,
                    "min_rows_per_label": self.opts.min_rows_per_label}
        return {"too_small": len(d.texts) < self.opts.min_rows, "min_rows": self.opts.min_rows}


# The table's first row; every other comes from the measures (runtime/eval/measures/).
ROWS = measures.Column("rows", "rows", "", lambda m: m.get("rows"), 0)


def _student_getter(kind: str, what: str) -> measures.Getter:
    def get(m: dict[str, Any]) -> Any:
        f1 = m.get("students", {}).get(kind, {}).get(what, {}).get("macro_f1")
        return {"mean": f1["mean"], "std": f1["std"]} if f1 and f1.get("mean") is not None else None
    return get


def _summary(datasets: dict[str, Any], compared: list[str], primary: str | None) -> dict[str, Any]:
    """The side-by-side table: one row per dataset, one column per measure, and the informational
    best synthetic dataset per diversity column (ties share; verdicts come from comparisons)."""
    kinds = sorted({k for m in datasets.values() for k in m.get("students", {})}, key=lambda k: (k != primary, k))
    columns = [(c.key, c.title, c.better, c.get) for c in (ROWS, *measures.columns())
               if not c.only_measured or any(c.get(m) is not None for m in datasets.values())]
    for kind in kinds:
        for what, title in measures.STUDENT_COLUMNS if kind == primary else measures.STUDENT_COLUMNS[:1]:
            columns.append((f"{kind}.{what}", f"{kind} {title}", "", _student_getter(kind, what)))
    rows = {name: {k: get(m) for k, _, _, get in columns} for name, m in datasets.items()}
    cols = [{"key": k, "title": t, "better": b} for k, t, b, _ in columns if any(r[k] is not None for r in rows.values())]
    best: dict[str, list[str]] = {}
    for c in cols:
        vals = {n: rows[n][c["key"]] for n in compared if rows[n][c["key"]] is not None}
        if c["better"] and len(vals) > 1:
            pick = min if c["better"] == "lower" else max
            top = pick(vals.values())
            best[c["key"]] = sorted(n for n, v in vals.items() if v == top)
    return {"columns": cols, "rows": rows, "best": best}
