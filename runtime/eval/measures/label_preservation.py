"""`label_preservation`: the intended labels under an oracle trained on the gold train split."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.runtime.eval.measures.base import Column, Measure

if TYPE_CHECKING:
    from synthc.runtime.eval.datasets import Dataset
    from synthc.runtime.eval.evaluate import Run

__all__ = ["LabelPreservation"]


def _oracle(run: Run) -> Any:
    if run.train is None:
        return None
    from synthc.runtime.eval.students import LabelOracle

    return LabelOracle(run.train.texts, [str(x) for x in run.train.labels])


class LabelPreservation(Measure):
    name = "label_preservation"
    rank = 90
    columns = (Column("label_preservation", "label preservation", "higher",
                      lambda m: m.get("label_preservation", {}).get("accuracy"), 80),)

    def measure(self, run: Run, d: Dataset, reference: bool, out: dict[str, Any]) -> None:
        if not d.labelled or reference:
            return
        oracle = run.shared("oracle", lambda: _oracle(run))
        if oracle is None:
            run.unavailable["label_preservation"] = "needs a gold train split (--train / `train =`)"
            return
        from synthc.runtime.eval.students import score

        got = score([str(x) for x in d.labels], oracle.predict(d.texts))
        out["label_preservation"] = {k: round(v, 6) for k, v in got.items()} | {
            "oracle": oracle.description, "independent": True,
            "filter_oracle": d.filter_oracle or None,
            "note": ("independent of the filter's oracle (other features or model), but trained on the same "
                     "gold split, so not free of its bias" if d.filter_oracle else
                     "no label_oracle filter recorded for this dataset")}
