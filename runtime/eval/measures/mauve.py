"""`mauve`: MAUVE against real test texts of the same label, on the local embedder's features."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from synthc.runtime.eval.embed import installed
from synthc.runtime.eval.measures.base import Column, Measure

if TYPE_CHECKING:
    from synthc.runtime.eval.datasets import Dataset
    from synthc.runtime.eval.evaluate import Run

__all__ = ["Mauve"]


class Mauve(Measure):
    name = "mauve"
    rank = 80
    embeds = True
    columns = (Column("mauve", "MAUVE ×100", "higher", lambda m: m.get("mauve", {}).get("mauve_x100"), 70),)

    def measure(self, run: Run, d: Dataset, reference: bool, out: dict[str, Any]) -> None:
        emb = run.dataset_embedding(d)
        if reference:
            return
        if not installed("mauve"):
            run.unavailable["mauve"] = "mauve-text is not installed; pip install 'synthc[eval]'"
            return
        import mauve

        labelled = d.labelled
        by_label: dict[str | None, list[int]] = {}
        for i, lab in enumerate(run.real.labels):
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
        real_emb = run.real_embeddings()[refs]
        buckets = max(2, min(run.opts.mauve_buckets, len(d.texts) // 5))
        res = mauve.compute_mauve(p_features=real_emb, q_features=emb, num_buckets=buckets, mauve_scaling_factor=1,
                                  seed=25, verbose=False, device_id=-1)
        out["mauve"] = {"mauve_x100": round(100 * float(res.mauve), 4), "num_buckets": buckets,
                        "scaling": 1, "p": "real texts of the same label, permuted (seed 42), cycled 1:1",
                        "deviation": "features from the local embedder, not gpt2-xl"}
