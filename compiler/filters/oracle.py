"""`label_oracle { trained_on = SOURCE ... }`: a classifier trained on real rows scores each row's
intended label; rows below the per-label calibrated (or absolute) threshold are dropped (reason
`oracle`), never below `min_kept` of a label. It runs after dedupe, so its floor counts only rows
that survived everything else. Rules: E312 (unlabelled source), E215/E216 (compiler/rules.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.compiler.fields import BOOL, FLOAT, REF, BlockSchema, Field
from synthc.compiler.filters.base import FilterKind, PlanBuilder

if TYPE_CHECKING:
    from synthc.compiler import ir
    from synthc.compiler.values import Values

__all__ = ["LabelOracle", "DEFAULT_CALIBRATE"]

DEFAULT_CALIBRATE = 0.1  # a label oracle with neither `keep` nor `calibrate`


class LabelOracle(FilterKind):
    name = "label_oracle"
    ir_field = "oracle"
    order = 90
    # `keep` and `calibrate` are exclusive (E215); with neither, `calibrate = 0.1` (lower_block).
    # calibrate's open ends (0 and 1 are no quantile worth dropping by) are E216, not E204.
    block = BlockSchema("label_oracle", False, (
        Field("trained_on", REF("source"), required=True),
        Field("calibrate", FLOAT(), doc="per label: drop rows scoring below this quantile (0..1, open) of what "
                                        "held-out real rows of the label score (default 0.1)"),
        Field("keep", FLOAT(0, 1), doc="absolute minimum oracle probability of the intended label"),
        Field("min_kept", FLOAT(0, 1), 0.25, doc="never keep fewer than this fraction of a label's rows "
                                                 "(the best-scoring ones), and never none"),
        Field("drop", BOOL, True, doc="false: only record the score"),
    ))
    card_reasons = ("oracle",)
    summary_rank = 50

    def lower_block(self, block: Values, seeds: str | None) -> Any:
        from synthc.compiler import ir

        x = block.values
        keep = float(x["keep"]) if "keep" in x else None
        # Neither given: calibrated at the 10th percentile (docs/language.md has the measurements).
        calibrate = float(x["calibrate"]) if "calibrate" in x else (None if keep is not None else DEFAULT_CALIBRATE)
        return ir.Oracle(trained_on=x["trained_on"], keep=keep, calibrate=calibrate,
                         min_kept=float(x["min_kept"]), drop=x["drop"], origin=block.origin)

    def summary(self, f: ir.Filter) -> str | None:
        o = f.oracle
        if o is None:
            return None
        return (f"oracle {'keep>=' + str(o.keep) if o.keep is not None else 'calibrate=' + str(o.calibrate)}"
                f" min_kept={o.min_kept}")

    def plan_inputs(self, f: ir.Filter, b: PlanBuilder) -> list[tuple[str, str]]:
        if f.oracle is None:
            return []
        from synthc.compiler.plan import Step, node_id

        trained_on = b.p.source(f.oracle.trained_on)
        return [("oracle", b.add(Step(node_id("oracle", "source", trained_on.name), "oracle",
                                      "tf-idf + logistic regression, 5-fold held-out scores",
                                      origin=f.oracle.origin, target=trained_on),
                                 ("rows", b.load_source(trained_on.name))))]
