"""The steps either side of generation: `render` plans a variant's rows (labels, seeds,
retrieved documents, demos, attributes, conversations); `parse` turns each completion into
candidate rows with provenance. Generation itself is the engine's (runtime/engine/groups.py)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from synthc.compiler import ir
from synthc.runtime.backends.base import would_generate
from synthc.runtime.io.data import Record
from synthc.runtime.engine.groups import Generation
from synthc.runtime.errors import fail
from synthc.runtime.prompting.history import history_turns
from synthc.runtime.prompting.postprocess import TOKEN_CAP, Candidate, parse_completion
from synthc.runtime.prompting.prompts import cut_echo, echo_markers, example_stops, is_free_text
from synthc.runtime.filters.oracle import Oracle
from synthc.runtime.prompting.rows import Pair, Planned, plan_rows
from synthc.runtime.steps import Context, Inputs
from synthc.runtime.steps.state import Stops
from synthc.runtime.store import memo

__all__ = ["render", "parse", "provenance"]


def render(ctx: Context, v: ir.Variant, inputs: Inputs, node: str) -> list[Planned]:
    pairs = demos = None
    retrieved = inputs.get("retrieval")
    if retrieved is not None:
        pairs, demos = retrieved
    seeds = inputs.get("seeds")
    screened = _screen(ctx, v, pairs or [], inputs.get("screen"))
    rows = plan_rows(v, ctx.program, seeds, pairs, demos, inputs.get("personas"), screened)
    _check_seeds(ctx, v, seeds, rows)
    ctx.note(node, f"{len(rows)} rows planned" + (f"; {len(screened)} of {len(pairs or [])} retrieved inputs "
                                                   "screened out by the label oracle" if screened else ""))
    return rows


def _screen(ctx: Context, v: ir.Variant, pairs: list[Pair], oracle: Oracle | None) -> frozenset[tuple[str, str]]:
    """(seed id, document id) of the inputs whose document the variant's label oracle scores, as a
    row of the seed's label, below the threshold its rows must reach (`retrieve { screen = true }`):
    a summary of a Sports article planned as World is a request the oracle would drop afterwards.
    Memoised (runtime/store/memo.py)."""
    o = v.filter.oracle
    if oracle is None or o is None or not pairs:
        return frozenset()
    return memo.screened(ctx.cache, o, oracle, pairs, lambda: screen(o, oracle, pairs))


def screen(o: ir.Oracle, oracle: Oracle, pairs: list[Pair]) -> frozenset[tuple[str, str]]:
    """The inputs `oracle` turns away under `o`'s threshold (what `_screen` memoises)."""
    labels = [p.seed.label for p in pairs]
    scores = oracle.score([p.hit.doc.text for p in pairs], labels)
    cutoff = oracle.cutoff(o.keep, o.calibrate)
    return frozenset((p.seed.id, p.hit.doc.id) for p, lb, s in zip(pairs, labels, scores) if s.prob < cutoff(lb))


def _check_seeds(ctx: Context, v: ir.Variant, seeds: list[Record] | None, rows: list[Planned]) -> None:
    """A prompt that reads `seed` needs a seed row for every planned row (E509, not a Jinja error)."""
    from synthc.compiler.templates import variables

    if v.seeds is None:
        return
    src = ctx.program.source(v.seeds)
    if not seeds:
        raise fail("E509", f"task `{v.id}` takes its seeds from `{v.seeds}`, which has no rows", src.origin,
                   "source declared here", help="check the file, its `split` and its sample")
    reads = set().union(*(variables(t.text) for t in (v.system, v.prompt) if t is not None))
    missing = sorted({r.label or "" for r in rows if r.seed is None})
    if "seed" in reads and missing:
        present = sorted({s.label or "" for s in seeds})
        raise fail("E509", f"task `{v.id}` needs seed rows of label(s) {', '.join(missing)}; `{v.seeds}` has "
                   f"only {', '.join(present) or 'unlabelled rows'}", src.origin, "source declared here",
                   help="map the source's `label` column to the label set's names, or change the labels")


def parse(ctx: Context, v: ir.Variant, inputs: Inputs, node: str) -> list[Candidate]:
    model = ctx.program.model(v.model)
    out: list[Candidate] = []
    state = ctx.variant(v)
    drops, cut = state.dropped, state.cut
    echo = echo_markers(v) if is_free_text(v) else None
    derived = bool(example_stops(v, model))
    stopped = saved = 0
    caps: Counter[int] = Counter()  # rows that stopped at the token cap, by cap
    generations: list[Generation] = inputs.one("generations")
    unenforced: list[str] = []  # the reasons of rows whose server ignored the output constraint
    for g in generations:
        r, text = g.row, g.completion.text
        if would_generate(g.completion):  # a preview's row not generated yet: one candidate, for the judge
            out.append(Candidate(key=r.key, text=text, label=r.label, fields={}, provenance={}, row=r))
            continue
        if g.completion.finish == "error":  # the server's answer was malformed; the reason goes to the event log
            # `server_error`, or `unenforced`: a constrained answer that breaks its constraint
            reason = g.completion.extra.get("drop", "server_error")
            state.drop(r.label, reason)
            ctx.events.emit("row_rejected", node=node, row=r.key, reason=g.completion.extra.get("error", ""))
            if reason == "unenforced":
                unenforced.append(g.completion.extra.get("error", ""))
            continue
        if derived and g.completion.finish == "stop":
            stopped += 1
            saved += max(0, g.request.max_tokens - g.completion.completion_tokens)
        echoed = False
        if echo is not None:
            text, echoed = cut_echo(text, echo)
            if echoed and not text.strip():
                _drop(ctx, v, node, r.key, r.label, "echo.template", "the whole completion echoes its prompt")
                continue
            if echoed:
                cut["echo"] += 1
        # Stopped at the token cap, the text was cut mid-way (postprocess.parse_completion
        # decides what that costs) — unless the echo cut above had already ended it earlier.
        cap = g.request.max_tokens if g.completion.finish == "length" and not echoed else None
        got = parse_completion(text, v.output, v.parse, cap)
        keys = [r.key if got.total == 1 else f"{r.key}#{n}" for n in range(got.total)]
        if got.reason:  # the whole completion, or its last piece
            _drop(ctx, v, node, keys[-1], r.label, got.reason, got.detail)
            if got.reason == TOKEN_CAP:
                caps[g.request.max_tokens] += 1
        if got.cut:
            cut[TOKEN_CAP] += 1
        for key, fields in zip(keys, got.pieces):
            text = str(fields.get(v.output.text_field, ""))
            label = r.label
            if "label" in fields and any(f.type == "label" for f in v.output.fields):
                label = str(fields["label"])
            rest = {k: val for k, val in fields.items() if k not in (v.output.text_field,)}
            out.append(Candidate(
                key=key, text=text, label=label, fields=rest,
                provenance=provenance(v, model, ctx.models.info.get(v.model, {}), g), row=r,
            ))
    if derived:
        state.stops = Stops(stopped, saved)
        ctx.note(node, f"{stopped} of {len(generations)} rows ended by an example stop "
                       f"(≤ {saved} tokens not generated)")
    if cut.get("echo") or drops.get("echo.template"):
        ctx.note(node, f"echoed prompt text: {cut['echo']} cut, {drops.get('echo.template', 0)} dropped")
    if cut.get(TOKEN_CAP):
        how = "cut back to their last whole sentence" if v.parse.truncated == "sentence" else "kept cut short"
        ctx.note(node, f"{cut[TOKEN_CAP]} rows stopped at the token cap, {how} (truncated = {v.parse.truncated})")
    if caps:
        _warn_token_cap(ctx, v, model, node, caps, len(generations))
    if unenforced:  # the server, not the model, is at fault: name it (the reason names dialect and URL)
        ctx.events.notice(f"warning: {len(unenforced)} of {len(generations)} rows of `{v.id}` were rejected "
                          f"(unenforced): {unenforced[0]}")
    return out


def _drop(ctx: Context, v: ir.Variant, node: str, key: str, label: str | None, reason: str, detail: str) -> None:
    """A row the parse step drops: counted (manifest, card) and logged with its detail, as the filters' are."""
    ctx.variant(v).drop(label, reason)
    ctx.events.emit("row_dropped", node=node, row=key, label=label, reason=reason, detail=detail)


def _warn_token_cap(ctx: Context, v: ir.Variant, model: ir.Model, node: str, caps: Counter[int], rows: int) -> None:
    """Rows dropped at the token cap are a setting to change, not the model's fault: say which one.
    A free-text output's word bound caps a request below the model's `max_tokens` (runtime/prompting/rows.py)."""
    n = sum(caps.values())
    at = ", ".join(str(c) for c in sorted(caps))
    if max(caps) < model.max_tokens:
        fix = "raise the upper bound of the output's `words` (the cap is about 1.6 tokens per word + 8)"
    else:
        fix = f"raise `max_tokens` of model `{model.name}`"
    if v.output.constraint_kind == "text":  # a JSON object cut short cannot be kept
        fix += (", or keep their whole sentences with `parse { truncated = sentence }`"
                if v.parse.truncated == "drop" else "")
    ctx.note(node, f"{n} of {rows} rows stopped at the token cap ({at}) and were dropped ({TOKEN_CAP})")
    ctx.events.notice(f"warning: {n} of {rows} rows of `{v.id}` stopped at max_tokens = {at} and were dropped "
                      f"({TOKEN_CAP}); {fix}")


def _model_provenance(name: str, info: dict[str, Any]) -> dict[str, Any]:
    if "fingerprint" in info:  # a served model: its id and the server's identity, never the key
        return {"name": name, "served_model": info["served_model"], "fingerprint": info["fingerprint"]}
    return {"name": name, "sha256": info.get("sha256")}


def provenance(v: ir.Variant, model: ir.Model, model_info: dict[str, Any], g: Generation) -> dict[str, Any]:
    r, req, comp = g.row, g.request, g.completion
    prompt_text = json.dumps(req.messages, ensure_ascii=False)
    prov: dict[str, Any] = {
        "task": v.task, "variant": v.name, "row": r.key,
        "prompt_sha256": hashlib.sha256(prompt_text.encode()).hexdigest(),
        "model": _model_provenance(model.name, model_info),
        "sampling": {"temperature": model.temperature, "top_p": model.top_p, "max_tokens": req.max_tokens,
                     "seed": req.seed},
        "attributes": r.attrs, "tokens": {"prompt": comp.prompt_tokens, "completion": comp.completion_tokens},
        "cache_key": g.key, "finish": comp.finish,
    }
    if comp.logprob is not None:  # mean per-token log-probability: the fluency filter reads it
        prov["logprob"] = round(comp.logprob, 6)
    if r.label is not None:
        prov["intended_label"] = r.label
    if r.seed is not None:
        prov["seed_id"] = r.seed.id
    if r.hit is not None:
        prov["doc"] = {"id": r.hit.doc.id, "rank": r.hit.rank, "similarity": round(r.hit.similarity, 6)}
    if r.demos:
        prov["demos"] = [{"seed_id": s.id, "doc_id": d.id if d else None} for s, d in r.demos]
    if r.conversation:
        prov["conversation"] = {"id": r.conversation, "turn": r.turn}
        if g.dropped:  # the oldest turns were left out to fit the context: the turns actually sent
            prov["conversation"]["history_turns"] = history_turns(req)
    if r.persona is not None:
        prov["persona"] = r.persona
    if g.once:  # the `once` values its prompt read: each block's key and the key row's cache entry
        prov["once"] = {name: {"key": key, "cache_key": ck} for name, key, ck in g.once}
    return prov
