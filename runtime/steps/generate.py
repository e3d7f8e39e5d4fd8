"""The steps either side of generation: `render` plans a variant's rows (labels, seeds,
retrieved documents, demos, attributes, conversations); `parse` turns each completion into
candidate rows with provenance. Generation itself is the engine's (runtime/engine.py)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from synthc.compiler import ir
from synthc.runtime.engine import Generation
from synthc.runtime.postprocess import Candidate, parse_completion
from synthc.runtime.prompts import cut_echo, echo_markers, example_stops, is_free_text
from synthc.runtime.rows import Planned, plan_rows
from synthc.runtime.steps import Context, Inputs

__all__ = ["render", "parse", "provenance"]


def render(ctx: Context, v: ir.Variant, inputs: Inputs, node: str) -> list[Planned]:
    pairs = demos = None
    retrieved = inputs.get("retrieval")
    if retrieved is not None:
        pairs, demos = retrieved
    rows = plan_rows(v, ctx.program, inputs.get("seeds"), pairs, demos, inputs.get("personas"))
    ctx.note(node, f"{len(rows)} rows planned")
    return rows


def parse(ctx: Context, v: ir.Variant, inputs: Inputs, node: str) -> list[Candidate]:
    model = ctx.program.model(v.model)
    out: list[Candidate] = []
    drops: Counter[str] = ctx.dropped.setdefault(v.id, Counter())
    cut: Counter[str] = ctx.cut.setdefault(v.id, Counter())
    echo = echo_markers(v) if is_free_text(v) else None
    derived = bool(example_stops(v, model))
    stopped = saved = 0
    generations: list[Generation] = inputs.one("generations")
    for g in generations:
        r, text = g.row, g.completion.text
        if g.completion.finish == "error":  # the server's answer was malformed; the reason goes to the event log
            drops["server_error"] += 1
            ctx.events.emit("row_rejected", node=node, row=r.key, reason=g.completion.extra.get("error", ""))
            continue
        if derived and g.completion.finish == "stop":
            stopped += 1
            saved += max(0, g.request.max_tokens - g.completion.completion_tokens)
        if echo is not None:
            text, echoed = cut_echo(text, echo)
            if echoed and not text.strip():
                drops["echo"] += 1
                continue
            if echoed:
                cut["echo"] += 1
        pieces, reason = parse_completion(text, v.output, v.parse)
        if reason:
            drops[reason.split(":")[0]] += 1
        for n, fields in enumerate(pieces):
            text = str(fields.get(v.output.text_field, ""))
            label = r.label
            if "label" in fields and any(f.type == "label" for f in v.output.fields):
                label = str(fields["label"])
            rest = {k: val for k, val in fields.items() if k not in (v.output.text_field,)}
            out.append(Candidate(
                key=r.key if len(pieces) == 1 else f"{r.key}#{n}", text=text, label=label, fields=rest,
                provenance=provenance(v, model, ctx.models.info.get(v.model, {}), g), row=r,
            ))
    if derived:
        ctx.stops[v.id] = {"rows": stopped, "tokens_saved": saved}
        ctx.note(node, f"{stopped} of {len(generations)} rows ended by an example stop "
                       f"(≤ {saved} tokens not generated)")
    if cut or drops.get("echo"):
        ctx.note(node, f"echoed prompt text: {cut['echo']} cut, {drops.get('echo', 0)} dropped")
    return out


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
    if r.persona is not None:
        prov["persona"] = r.persona
    return prov
