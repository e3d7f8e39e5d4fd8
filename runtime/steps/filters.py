"""The filter step: a variant's candidates through its filters (runtime/filters/), the drops
counted per label and reason for the manifest and card, each dropped row's detail in the event
log, each kept row's scores in its provenance. It gathers what the filters compare rows with:
the oracle, the `near_copy` sources, the values no row may echo, each row's rendered instruction."""

from __future__ import annotations

from collections import Counter

from synthc.compiler import ir
from synthc.compiler.filters import in_order
from synthc.runtime.io.data import Record
from synthc.runtime.errors import fail
from synthc.runtime.filters.pipeline import FilterInputs, Texts, apply_filters
from synthc.runtime.filters.shingles import ShingleIndex
from synthc.runtime.prompting.postprocess import TOKEN_CAP, Candidate
from synthc.runtime.prompting.prompts import forbidden_values, is_free_text, prompt_echo, value_echo
from synthc.runtime.prompting.rows import build_request
from synthc.runtime.steps import Context, Inputs

__all__ = ["filter_rows"]


def filter_rows(ctx: Context, v: ir.Variant, inputs: Inputs, node: str) -> list[Candidate]:
    rows: list[Candidate] = inputs.one("candidates")
    fin = FilterInputs(oracle=inputs.get("oracle"), copy_of=_copy_sources(inputs),
                       echo=value_echo(forbidden_values(v, ctx.program)),
                       prompt=(lambda c: _instruction(ctx.program, v, c)) if is_free_text(v) else None)
    kept = apply_filters(rows, v.filter, fin)
    state = ctx.variant(v)
    for r in rows:
        if r.dropped:
            state.drop(r.label, r.dropped)
            ctx.events.emit("row_dropped", node=node, row=r.key, label=r.label, reason=r.dropped, detail=r.detail)
    for r in kept:
        r.provenance["scores"] = r.scores
    if fin.unscored:
        state.add_unscored(fin.unscored)
    drops = state.dropped
    if not kept and (rows or sum(drops.values())):
        why = ", ".join(f"{k} {n}" for k, n in drops.most_common()) or "no completion parsed into a row"
        fix = "loosen the filter that dropped the most rows; generations are cached, so a rebuild is quick"
        if drops and drops.most_common(1)[0][0] == TOKEN_CAP:  # no filter to loosen: the cap cut them
            fix = ("raise the token cap (the warning above says which setting), or keep the whole sentences of "
                   "the rows it cut with `parse { truncated = sentence }` (or all of them: `keep`)")
        raise fail("E525", f"no row of `{v.id}` survived parsing and filters (dropped: {why})",
                   v.filter.origin if v.filter.origin.file >= 0 else v.origin, "filters of this task", help=fix)
    state.keep([r.label for r in kept])
    ctx.note(node, _note(rows, kept, fin))
    return kept


def _instruction(program: ir.Program, v: ir.Variant, c: Candidate) -> ShingleIndex:
    """The row's rendered system and prompt, minus the data rendered into them (prompts.prompt_echo)."""
    r = c.row
    if r is None:  # a candidate built outside a plan (tests)
        return ShingleIndex(0)
    req, _ = build_request(v, program, r, [])
    data = [s.text for s, _ in r.demos] + [d.text for _, d in r.demos if d is not None]
    data += [x.text for x in (r.seed, r.hit.doc if r.hit else None) if x is not None]
    data += [str(val) for val in (r.persona or {}).values()]
    return prompt_echo(tuple(text for _, text in req.messages), tuple(data))


def _copy_sources(inputs: Inputs) -> tuple[Texts, ...]:
    out = []
    for step, loaded in inputs.each("copy_of"):
        src: list[Record] = loaded
        out.append(Texts(step.target.name, tuple(r.id for r in src), tuple(r.text for r in src)))
    return tuple(out)


# (reason key, what such a row lacks) of the kinds that keep rows they could not score.
_UNSCORED = tuple(k.unscored for k in in_order() if k.unscored is not None)


def _note(rows: list[Candidate], kept: list[Candidate], fin: FilterInputs) -> str:
    """`kept 12 of 30; positive 6 kept, 4 dropped (oracle 3, near_copy 1); negative …`"""
    per: dict[str, Counter[str]] = {}
    for r in rows:
        per.setdefault(r.label or "", Counter())[r.dropped or "kept"] += 1
    parts = []
    for label, c in sorted(per.items()):
        reasons = ", ".join(f"{k} {n}" for k, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])) if k != "kept")
        parts.append(f"{label or '-'} {c['kept']} kept" + (f", {sum(c.values()) - c['kept']} dropped ({reasons})"
                                                          if reasons else ""))
    unknown = "".join(f"; {fin.unscored[key]} {what} kept ({key})" for key, what in _UNSCORED if fin.unscored[key])
    return f"kept {len(kept)} of {len(rows)}" + ("; " + "; ".join(parts) if parts else "") + unknown
