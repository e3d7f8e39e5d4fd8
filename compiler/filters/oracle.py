"""`label_oracle { trained_on = SOURCE ... }`: a classifier trained on real rows scores each row's
intended label; rows below the per-label calibrated (or absolute) threshold are dropped (reason
`oracle`), never below `min_kept` of a label. It runs after dedupe, so its floor counts only rows
that survived everything else. Rules: E312 (unlabelled source), E215/E216 (`keep` and `calibrate`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthc.compiler.fields import BOOL, FLOAT, REF, BlockSchema, Field
from synthc.compiler.filters.base import FilterKind, PlanBuilder

if TYPE_CHECKING:
    from synthc.compiler import ir
    from synthc.compiler.values import Values, Variant

__all__ = ["LabelOracle", "DEFAULT_CALIBRATE", "oracle_node"]

DEFAULT_CALIBRATE = 0.1  # a label oracle with neither `keep` nor `calibrate`


def _e312_unlabelled(v: Variant, r: Any) -> None:
    """The oracle learns labels: its source must map a `label` column."""
    filt = v.blocks.get("filter")
    oracle = filt.children.get("label_oracle") if filt is not None else None
    if oracle is None:
        return
    src = r.decls["source"].get(oracle.values.get("trained_on", ""))
    if src is not None and "label" not in src.values:
        r.once("E312", f"oracle source `{src.name}` has no `label` column",
               oracle.spans["trained_on"], "unlabelled source", help='map `label = "…"` on the source')


def _e215_threshold(v: Variant, r: Any) -> None:
    """`keep` (absolute) and `calibrate` (relative to held-out real rows) are two answers to one
    question; `calibrate` is a quantile, so its ends 0 and 1 (keep all / drop nearly all) are no setting."""
    filt = v.blocks.get("filter")
    oracle = filt.children.get("label_oracle") if filt is not None else None
    if oracle is None:
        return
    x, spans = oracle.values, oracle.spans
    if "keep" in x and "calibrate" in x:
        r.once("E215", "`label_oracle` sets both `keep` and `calibrate`", spans["calibrate"],
               "exclusive with `keep`", secondary=((spans["keep"], "`keep` set here"),),
               help="keep one: `calibrate = 0.1` (relative to real rows of each label) or `keep = 0.5` (absolute)")
    q = x.get("calibrate")
    if q is not None and not 0 < q < 1:
        r.once("E216", f"`calibrate` = {q:g} is not a quantile strictly between 0 and 1", spans["calibrate"],
               "allowed: 0 < calibrate < 1",
               help="0.1 drops rows scoring below what 90 % of held-out real rows of their label score")


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
    rules = (_e312_unlabelled, _e215_threshold)

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
        return [("oracle", oracle_node(f.oracle, b))] if f.oracle is not None else []


def oracle_node(o: ir.Oracle, b: PlanBuilder) -> str:
    """The node training `o`'s classifier: one per source, read by the filter steps and by a render
    step that screens its retrieved documents with it (`retrieve { screen = true }`)."""
    from synthc.compiler.plan import Step, node_id

    trained_on = b.p.source(o.trained_on)
    return b.add(Step(node_id("oracle", "source", trained_on.name), "oracle",
                      "tf-idf + logistic regression, 5-fold held-out scores", origin=o.origin, target=trained_on),
                 ("rows", b.load_source(trained_on.name)))
