"""Cross-field rules of the three papers' pipelines: one small function per code.

Variant rules see one effective variant (task settings merged in) and report through `Report.once`:
a task-level setting is checked once per variant but reported once. Program rules see every
checked declaration. `VARIANT_RULES` and `PROGRAM_RULES` run in order; docs/codes.md explains
each code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from synthc.compiler.diagnostics import Sink
from synthc.compiler.endpoints import check_endpoints
from synthc.compiler.filters import variant_rules
from synthc.compiler.outputs import variant_rules as output_rules
from synthc.compiler.source import Span
from synthc.compiler.symbols import did_you_mean
from synthc.compiler.values import Values, Variant

__all__ = ["Report", "Decls", "VARIANT_RULES", "PROGRAM_RULES"]

Decls = dict[str, dict[str, Values]]  # kind -> name -> checked block


@dataclass(slots=True)
class Report:
    sink: Sink
    decls: Decls
    _seen: set[tuple[int, int, str]] = field(default_factory=set)

    def once(self, code: str, message: str, span: Span, label: str, *, warning: bool = False, **extra: Any) -> None:
        """Report unless this code was already reported at this place (for another variant)."""
        key = (span.file, span.start, code)
        if key not in self._seen:
            self._seen.add(key)
            (self.sink.warning if warning else self.sink.error)(code, message, span, label, **extra)


VariantRule = Callable[[Variant, Report], None]


def _kind(v: Variant) -> str:
    return str(v.values.values.get("kind", "classification"))


def e202_prompt(v: Variant, r: Report) -> None:
    if "prompt" not in v.values.values:
        r.once("E202", f"{v.label} is missing `prompt`", v.origin, "missing `prompt` here",
               help='add `prompt = """…"""`')


def e306_labels(v: Variant, r: Report) -> None:
    if _kind(v) != "classification":
        return
    val, where = v.values.values, v.values.origin
    if val.get("labels") is None:
        r.once("E306", f"classification {v.label} needs `labels`", where, "no label set",
               help="add `labels = <labels block>`")
    seeds = val.get("seeds")
    src = r.decls["source"].get(seeds) if seeds else None
    if src is not None and "label" not in src.values:
        r.once("E306", f"seeds source `{seeds}` has no `label` column", v.values.spans.get("seeds", where),
               "classification seeds need labels", help='map it: `label = "label"` in the source')


def e305_counts(v: Variant, r: Report) -> None:
    val, spans, where = v.values.values, v.values.spans, v.values.origin
    if _kind(v) == "classification":
        if v.values.invalid & {"per_label", "total"}:
            return  # set to a value already reported (`per_label = -1` is E204, not "neither set")
        if ("per_label" in val) == ("total" in val):
            both = "per_label" in val
            r.once("E305", f"{v.label} must set exactly one of `per_label` and `total`",
                   spans.get("total", where) if both else where, "both set" if both else "neither set",
                   help="keep one" if both else "add `per_label = N`")
    elif "per_label" in val:
        r.once("E305", f"qa_pairs {v.label} takes `total`, not `per_label`", spans["per_label"], "per label")


def e310_qa_seeds(v: Variant, r: Report) -> None:
    if _kind(v) != "classification" and not v.values.values.get("seeds"):
        r.once("E310", f"qa_pairs {v.label} needs `seeds`", v.values.origin, "no input rows",
               help="add `seeds = <source>` (the questions)")


def e307_pairs(v: Variant, r: Report) -> None:
    if "pairs" in v.blocks and _kind(v) != "qa_pairs":
        r.once("E307", f"`pairs` needs `kind = qa_pairs` in {v.label}", v.blocks["pairs"].origin, "pairs block")


def e302_seeds(v: Variant, r: Report) -> None:
    if v.values.values.get("seeds"):
        return
    fewshot, retrieve = v.blocks.get("fewshot"), v.blocks.get("retrieve")
    if fewshot is not None and fewshot.values.get("shots", 0) > 0:
        r.once("E302", f"few-shot demos need `seeds` in {v.label}", fewshot.origin, "demos from where?",
               help="add `seeds = <source>` to the task")
    if retrieve is not None:
        r.once("E302", f"retrieval queries need `seeds` in {v.label}", retrieve.origin,
               "queries come from seed rows", help="add `seeds = <source>` to the task")


def e303_retricl(v: Variant, r: Report) -> None:
    fewshot, retrieve = v.blocks.get("fewshot"), v.blocks.get("retrieve")
    if fewshot is None or fewshot.values.get("shots", 0) <= 0 or fewshot.values.get("from") != "retrieved":
        return
    if retrieve is None or "demo_ranks" not in retrieve.values:
        r.once("E303", f"`from = retrieved` needs `retrieve {{ demo_ranks = … }}` in {v.label}",
               fewshot.spans.get("from", fewshot.origin), "no retrieved demo pairs",
               help="add a retrieve block with `demo_ranks = 1..2`")


def e309_ranks(v: Variant, r: Report) -> None:
    retrieve = v.blocks.get("retrieve")
    if retrieve is None:
        return
    k = retrieve.values.get("k", 50)
    for rk in ("ranks", "demo_ranks"):
        rng = retrieve.values.get(rk)
        if rng and rng[1] > k:
            r.once("E309", f"`{rk}` reaches rank {rng[1]} but only k = {k} are retrieved",
                   retrieve.spans[rk], f"beyond k = {k}", help=f"raise `k` to {rng[1]} or narrow the range")


def e323_screen(v: Variant, r: Report) -> None:
    """`retrieve { screen = true }` scores documents with the variant's label oracle: it needs one."""
    retrieve, filt = v.blocks.get("retrieve"), v.blocks.get("filter")
    if retrieve is None or not retrieve.values.get("screen"):
        return
    if filt is None or "label_oracle" not in filt.children:
        r.once("E323", f"`screen = true` needs a `label_oracle` filter in {v.label}", retrieve.spans["screen"],
               "nothing to screen with", help="add `filter { label_oracle { trained_on = <labelled source> } }`, "
                                              "or remove `screen`")


def e304_chat(v: Variant, r: Report) -> None:
    conv = v.blocks.get("conversation")
    name = v.values.values.get("model", "")
    model = r.decls["model"].get(name)
    if conv is not None and model is not None and model.values.get("mode") == "completion":
        r.once("E304", f"`conversation` needs a chat model in {v.label}", conv.origin, "multi-turn history",
               help=f"set `mode = chat` on model `{name}`")


def e225_conversation_reach(v: Variant, r: Report) -> None:
    """Li et al.'s diversity prompt goes with every `every`-th request of a conversation after the
    first; a conversation holds at most `reset_after` requests and a label's first round
    `per_label` (runtime/prompting/rows.py): when neither exceeds `every`, the prompt is never sent."""
    conv = v.blocks.get("conversation")
    if conv is None or _kind(v) != "classification":
        return
    val = v.values.values
    model = r.decls["model"].get(val.get("model", ""))
    if model is not None and model.values.get("mode") == "completion":
        return  # no conversation at all: E304
    every, reset = conv.values.get("every", 5), conv.values.get("reset_after", 20)
    label_set = r.decls["labels"].get(val.get("labels") or "")
    n_labels = max(1, len(label_set.open)) if label_set is not None else 1
    per_label = val.get("per_label")
    if per_label is None and val.get("total") is not None:
        per_label = -(-int(val["total"]) // n_labels)
    if not isinstance(per_label, int) or not isinstance(every, int) or not isinstance(reset, int):
        return
    turns = min(per_label, reset)
    if 0 < turns <= every:
        why = (f"`reset_after = {reset}`" if reset <= per_label else
               f"{v.label} plans {per_label} request(s) per label")
        r.once("E225", f"no conversation reaches its first diversity prompt: it comes with request {every + 1} "
               f"of a conversation, and {why}", conv.spans.get("every", conv.origin),
               f"every {every} turns", warning=True,
               help=f"make `per_label` and `reset_after` larger than `every` (= {every}), or lower `every`")


def e313_persona(v: Variant, r: Report) -> None:
    persona, seeds = v.values.values.get("persona"), v.values.values.get("seeds")
    pers = r.decls["persona"].get(persona) if persona else None
    if pers is not None and pers.values.get("source") != seeds:
        r.once("E313", f"persona `{persona}` is derived from `{pers.values.get('source')}`, "
               f"but {v.label} has seeds `{seeds}`", v.values.spans.get("persona", v.values.origin),
               "different source", help=f"derive the persona from `{seeds}`")


VARIANT_RULES: tuple[VariantRule, ...] = (
    e202_prompt, e306_labels, e305_counts, e310_qa_seeds, e307_pairs, e302_seeds, e303_retricl,
    e309_ranks, e323_screen, e304_chat, e225_conversation_reach, e313_persona,
    # Each filter kind's own rules (E107, E312, E215/E216, E218, E230/E231, E315 of a judge) in kind
    # order (compiler/filters/kinds.py). Diagnostics are reported sorted by (file, offset, code), so
    # the order of rules with different codes never shows; each code has exactly one rule.
    *variant_rules(),
    *output_rules(),  # the output kinds' own (compiler/outputs/)
)


# -- program rules ----------------------------------------------------------------------------

ProgramRule = Callable[[Decls, dict[str, list[Variant]], Sink], None]


def e109_variants(decls: Decls, tasks: dict[str, list[Variant]], sink: Sink) -> None:
    """Exports and evaluations name variants of their task."""
    for kind in ("export", "evaluate"):
        for v in decls[kind].values():
            task = v.values.get("task")
            if task not in tasks:
                continue
            names = [x.name for x in tasks[task]]
            for name in v.values.get("variants") or ():
                if name not in names:
                    sink.error("E109", f"task `{task}` has no variant `{name}`", v.spans["variants"],
                               "unknown variant", help=did_you_mean(name, names) or f"variants: {', '.join(names)}")


def e314_retrieval_eval(decls: Decls, tasks: dict[str, list[Variant]], sink: Sink) -> None:
    """`retrieval` on a qa_pairs task trains and evaluates retrievers: it needs the collection and
    the field of the real rows that names each question's relevant document."""
    for v in decls["evaluate"].values():
        x = v.values
        variants = tasks.get(x.get("task", ""), [])
        if "retrieval" not in x.get("metrics", ()) or not variants:
            continue
        if variants[0].values.values.get("kind") != "qa_pairs":
            continue
        missing = [f for f in ("collection", "relevant") if f not in x]
        if missing:
            sink.error("E314", f"retrieval evaluation of qa_pairs task `{x['task']}` needs "
                       f"{' and '.join(f'`{m}`' for m in missing)}", v.spans.get("metrics", v.origin),
                       "retrieval asked here", help='add `collection = <corpus>` and `relevant = "accepted_answer_id"`')
            continue
        for src in (x.get("real"), x.get("train")):
            s = decls["source"].get(src or "")
            if s is not None and x["relevant"] not in s.values.get("fields", ()):
                sink.error("E314", f"source `{src}` does not declare the field `{x['relevant']}`",
                           v.spans.get("relevant", v.origin), "named here",
                           help=f'add "{x["relevant"]}" to `fields` of source `{src}`')


def e301_empty_labels(decls: Decls, tasks: dict[str, list[Variant]], sink: Sink) -> None:
    for name, v in decls["labels"].items():
        if not v.open:
            sink.error("E301", f"label set `{name}` is empty", v.origin, "declares no label",
                       help='add `name = "verbalization"` lines')


def e308_token_budget(decls: Decls, tasks: dict[str, list[Variant]], sink: Sink) -> None:
    for name, v in decls["model"].items():
        if v.values.get("max_tokens", 0) >= v.values.get("context", 1 << 30):
            sink.error("E308", f"`max_tokens` of model `{name}` does not fit its context",
                       v.spans.get("max_tokens", v.origin),
                       f"{v.values['max_tokens']} ≥ context {v.values['context']}",
                       help="lower `max_tokens` or raise `context`")


PROGRAM_RULES: tuple[ProgramRule, ...] = (e109_variants, e314_retrieval_eval, e301_empty_labels, e308_token_budget,
                                          check_endpoints)
