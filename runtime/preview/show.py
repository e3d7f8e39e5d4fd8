"""`synthc show` and `synthc plan --prompts`: the exact requests chosen rows send, without generating.

Nothing is rendered here: the rows and their requests are the build's own — the build runs
against the cache without generating (`runtime/preview/run.py`: the scheduler with a cache-only
dispatcher), so each conversation turn carries its cached history, fitted to the context, and
the rows of later quota rounds a build generated come with their label, exactly as sent. A row no
build planned yet (`--row`) is planned as a quota round would plan it, after the node's rounds. What this module adds is the choice of rows and the way they are printed: every message
(system, user, assistant turns, the diversity prompt where it falls) or the completion prompt, with
the facts that decide how a row ends (stops, token cap, constraint) and where its inputs came from
(seed row, retrieved document, demos).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Callable

from synthc.compiler import ir
from synthc.compiler.plan import Plan
from synthc.compiler.source import NO_SPAN
from synthc.compiler.symbols import did_you_mean
from synthc.runtime.backends.base import NOT_GENERATED, Request
from synthc.runtime.errors import fail
from synthc.runtime.preview.run import Preview, PreviewRow, preview
from synthc.runtime.prompting.rows import Planned

__all__ = ["Shown", "Selection", "show", "as_text", "as_json"]

_PIECE = re.compile(r"#\d+\Z")  # a split completion's n-th row: "<key>#n"
_KEY = re.compile(r"(?P<label>.*)/(?P<index>\d+)\Z")


@dataclass(frozen=True, slots=True)
class Selection:
    """Which rows: `variants` (`name` or `task.name`; none = every generating variant), then either
    `rows` rows per variant spread over its labels (None = one per label), or the rows `keys` name
    (a planned row key `label/000003`, or a dataset row's `id` `task.variant.label/000003#1`)."""

    variants: tuple[str, ...] = ()
    rows: int | None = None
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Shown:
    """One row's request and what decides it."""

    variant: ir.Variant
    model: ir.Model
    rr: PreviewRow
    messages: tuple[tuple[str, str | None], ...]  # the request's; None: an earlier turn not generated yet
    templated: str | None  # the prompt with the model's chat template applied (what the model reads)
    prompt_tokens: int | None  # counted by the model's tokenizer (None with the fake backend's stand-in)
    cache: str  # "cached" | "new" | "unknown" (no cache yet)
    judge: Request | None = None  # the judge's request scoring this row (a `judge` filter), its text as cached


_NOT_YET = "[the row's text: not generated yet]"


def show(plan: Plan, selection: Selection, *, backend: str = "llama",
         progress: Callable[[str], None] | None = None, recipe: str | None = None,
         previewed: Preview | None = None) -> list[Shown]:
    """The selected rows' requests, per variant in label/index order: the first round's rows, then
    the rows a build's later quota rounds added (found in the cache), and with `keys` any row of
    the variant, planned as a quota round would plan it. E535 when the selection names a variant or
    row the plan cannot have; E5xx when the data or the model cannot be loaded. `previewed`: a
    preview of every generating node already run (`plan --prompts` after its annotations), reused
    unless the selection names rows by key (those need their own planning)."""
    nodes = _nodes(plan, selection.variants)
    ids = [plan.step(n).target.id for n in _generating(plan)]
    wanted = {n: _wanted(plan.step(n).target, selection.keys, ids) for n in nodes} if selection.keys else {}
    unplanned: dict[str, dict[str, str]] = {n: {} for n in wanted}  # node -> key asked for -> why no such row
    lk = previewed if previewed is not None and not wanted else preview(
        plan, recipe=recipe, backend=backend, nodes=nodes, progress=progress,
        more={n: _keyed(plan, n, tuple(w), unplanned[n]) for n, w in wanted.items() if w},
        keep={n: set(w) for n, w in wanted.items()})
    for failed in lk.failures.values():
        raise failed  # the data or the model could not be loaded: the build's own diagnostic
    out: list[Shown] = []
    matched: set[str] = set()  # the keys asked for that named a row
    for node in nodes:
        v: ir.Variant = plan.step(node).target
        requests = _by_label(lk.nodes[node].data_rows()) if node in lk.nodes else []
        if selection.keys:
            chosen = [rr for rr in requests if rr.row.key in wanted[node]]
            matched.update(given for rr in chosen for given in wanted[node][rr.row.key])
        else:
            chosen = _spread(requests, selection.rows)
        model = plan.program.model(v.model)
        be = lk.models.get(v.model) if lk.models is not None else None
        for rr in chosen:
            messages = _messages(rr)
            templated = tokens = None
            if be is not None and backend != "fake":
                filled = tuple((role, _placeholder(k) if text is None else text)
                               for k, (role, text) in enumerate(messages))
                templated = be.render(replace(rr.request, messages=filled))
                # Counted without the placeholders: a lower bound while earlier answers are unknown.
                bare = tuple((role, text or "") for role, text in messages)
                tokens = be.count_tokens(templated if bare == filled else be.render(replace(rr.request, messages=bare)))
            cache = "unknown" if not lk.cache_found else "cached" if rr.completion is not None else "new"
            out.append(Shown(v, model, rr, messages, templated, tokens, cache, _judge(plan.program, v, rr)))
    unmatched = [k for k in selection.keys if k not in matched]
    if unmatched:
        sample = next((r.row.key for rows in lk.nodes.values() for r in rows.data_rows()), None)
        reasons = list(dict.fromkeys(why for node in nodes for key, why in unplanned.get(node, {}).items()
                                     if set(wanted[node][key]) & set(unmatched)))
        generic = (f"row keys look like `{sample}` (or a dataset row's `id`); `synthc show SPEC --rows 5` prints some"
                   if sample else "this selection plans no rows")
        raise fail("E535", f"no row `{'`, `'.join(unmatched)}` in {_names(plan, nodes)}", NO_SPAN,
                   help="; ".join(reasons) if reasons else generic)
    return out


def _judge(program: ir.Program, v: ir.Variant, rr: PreviewRow) -> Request | None:
    """The request the variant's judge sends for this row: its cached completion as the text (the
    build's judge reads the parsed row, the same text for a plain free-text output), else a placeholder."""
    j = v.filter.judge
    if j is None:
        return None
    from synthc.runtime.prompting.judge import judge_request
    from synthc.runtime.prompting.postprocess import Candidate
    from synthc.runtime.prompting.rows import row_seed

    text = rr.completion.text.strip() if rr.completion is not None else _NOT_YET
    c = Candidate(key=rr.row.key, text=text, label=rr.row.label, fields={}, provenance={}, row=rr.row)
    return judge_request(j, v, program, c, row_seed("judge", v.id, rr.row.key))[0]


def _messages(rr: PreviewRow) -> tuple[tuple[str, str | None], ...]:
    """The request's messages, an earlier answer not generated yet as None (the build sends it
    once it is)."""
    return tuple((role, None if text == NOT_GENERATED else text) for role, text in rr.request.messages)


def _by_label(rows: tuple[PreviewRow, ...]) -> list[PreviewRow]:
    """A variant's rows label by label (in the order labels first come), each label's by index:
    its first round, then the rows later rounds added."""
    labels: dict[str | None, int] = {}
    for r in rows:
        labels.setdefault(r.row.label, len(labels))
    return sorted(rows, key=lambda r: (labels[r.row.label], r.row.index))


def row_key(key: str) -> str:
    """A row key in the planner's spelling: `ham/3` -> `ham/000003`, `3` -> `000003` (qa_pairs)."""
    m = _KEY.match(key)
    if m:
        return f"{m['label']}/{int(m['index']):06d}"
    return f"{int(key):06d}" if key.isdecimal() else key


def _keyed(plan: Plan, node: str, keys: tuple[str, ...], why: dict[str, str]) -> Callable[[Any, dict[str, Any]], list[Planned]]:
    """The rows `keys` name that the node's build did not plan (`--row` of an index no build
    reached), planned as a quota round plans them — a conversation turn with the earlier turns of
    its conversation — for the scheduler to add after the node's rounds; for each key that names
    no row the variant can have, why."""
    v: ir.Variant = plan.step(node).target
    render = next(u for _, u in plan.inputs(node) if plan.step(u).kind == "render")

    def more(job: Any, values: dict[str, Any]) -> list[Planned]:
        planner = getattr(values.get(render), "planner", None)
        have = {r.key for r in job.rows}
        added: dict[str, Planned] = {}
        for key in keys:
            m = _KEY.match(key)
            if key in have or key in added:
                continue
            if m is None or planner is None or v.kind == "qa_pairs":
                why[key] = f"row keys are `<label>/<index>`, like `{job.rows[0].key if job.rows else 'label/000000'}`"
                continue
            label, index = m["label"], int(m["index"])
            if label not in planner.labels:
                why[key] = f"no label `{label}`; " + (did_you_mean(label, planner.labels) or f"labels: {', '.join(planner.labels)}")
                continue
            start = index - index % v.conversation.reset_after if v.conversation is not None else index
            rows = [r for r in planner.numbered(label, start, index - start + 1) if r.index <= index]
            if not rows or rows[-1].index != index:
                n = planner.inputs_of(label)
                if index < n:
                    why[key] = (f"`{key}`'s retrieved input is screened out by the label oracle (`retrieve {{ screen = true }}`): "
                                "no build plans it")
                else:
                    why[key] = (f"label `{label}` of `{v.id}` has {n} retrieved input(s) (each is used once): its rows are "
                                f"`{label}/000000`..`{label}/{n - 1:06d}`" if n else f"label `{label}` of `{v.id}` has no retrieved input")
                continue
            for r in rows:
                if r.key not in have:
                    added.setdefault(r.key, r)
        return list(added.values())
    return more


def _placeholder(k: int) -> str:
    """What stands for the not yet generated answer at message `k` (after a system message or not)."""
    return f"[not generated yet: the answer to turn {(k - 1) // 2} of this conversation]"


def _generating(plan: Plan) -> list[str]:
    """The generate nodes in the recipe's order of tasks and variants."""
    order = {v.id: k for k, v in enumerate(plan.program.variants())}
    nodes = [n for n in plan.order() if plan.step(n).kind == "generate"]
    return sorted(nodes, key=lambda n: order.get(plan.step(n).target.id, len(order)))


def _names(plan: Plan, nodes: list[str]) -> str:
    return ", ".join(f"`{plan.step(n).target.id}`" for n in nodes)


def _nodes(plan: Plan, wanted: tuple[str, ...]) -> list[str]:
    nodes = _generating(plan)
    if not wanted:
        return nodes
    out: list[str] = []
    for name in wanted:
        hits = [n for n in nodes if name in (plan.step(n).target.id, plan.step(n).target.name, plan.step(n).target.task)]
        if not hits:
            ids = [plan.step(n).target.id for n in nodes]
            names = list(dict.fromkeys([i.split(".", 1)[1] for i in ids] + ids))
            raise fail("E535", f"no variant `{name}` in the recipe", NO_SPAN,
                       help=did_you_mean(name, names) or f"variants: {', '.join(ids)}")
        out += [n for n in hits if n not in out]
    return [n for n in nodes if n in out]


def _spread(requests: list[PreviewRow], n: int | None) -> list[PreviewRow]:
    """`n` rows spread over the labels (the first row of each label, then the second, …), in plan
    order; None: the first row of each label."""
    by_label: dict[str | None, list[PreviewRow]] = {}
    for rr in requests:
        by_label.setdefault(rr.row.label, []).append(rr)
    want = len(by_label) if n is None else n
    picked: list[PreviewRow] = []
    depth = 0
    while len(picked) < want and any(depth < len(rows) for rows in by_label.values()):
        for rows in by_label.values():
            if depth < len(rows) and len(picked) < want:
                picked.append(rows[depth])
        depth += 1
    order = {id(rr): k for k, rr in enumerate(requests)}
    return sorted(picked, key=lambda rr: order[id(rr)])


def _wanted(v: ir.Variant, keys: tuple[str, ...], ids: list[str]) -> dict[str, list[str]]:
    """The row keys of `v` that `keys` name (in the planner's spelling, each mapped to the keys as
    given that name it): a row key, or a dataset row's id (`task.variant.key`, with `#n` for a split
    completion's n-th row), which names its own variant only."""
    out: dict[str, list[str]] = {}
    for given in keys:
        key = _PIECE.sub("", given.strip())
        owner = next((i for i in sorted(ids, key=len, reverse=True) if key.startswith(i + ".")), None)
        if owner is None:
            out.setdefault(row_key(key), []).append(given)
        elif owner == v.id:
            out.setdefault(row_key(key[len(owner) + 1:]), []).append(given)
    return out


# -- printing -------------------------------------------------------------------------------------

def _facts(s: Shown) -> list[tuple[str, str]]:
    r, req, v, m = s.rr.row, s.rr.request, s.variant, s.model
    facts = [("row", r.key), ("round", _round(s))]
    if r.label is not None:
        facts.append(("label", r.label))
    if r.seed is not None:
        facts.append(("seed row", f"{r.seed.id} (source `{v.seeds}`)"))
    if r.hit is not None:
        facts.append(("document", f"{r.hit.doc.id} (retrieved at rank {r.hit.rank}, similarity {r.hit.similarity:.3f})"))
    if r.demos:
        demos = ", ".join(s_.id + (f" ← document {d.id}" if d is not None else "") for s_, d in r.demos)
        facts.append(("demos", f"{len(r.demos)}: {demos}"))
    if req.avoid:
        facts.append(("copy guard", f"the llama.cpp decoder writes no {req.avoid_words}-word span of the "
                                    f"{len(req.avoid)} demo texts (near_copy)"))
    if r.attrs:
        facts.append(("attributes", ", ".join(f"{k} = {val}" for k, val in r.attrs.items())))
    if r.persona:
        facts.append(("persona", ", ".join(f"{k} = {val}" for k, val in r.persona.items())))
    if r.conversation:
        conv = v.conversation
        diverse = conv is not None and r.turn > 0 and r.turn % conv.every == 0
        line = f"{r.conversation}, turn {r.turn}" + (" (the diversity prompt comes at this turn)" if diverse else "")
        if s.rr.missing:
            unknown = sum(text is None for _, text in s.messages)
            line += (f"; {unknown} earlier answer(s) not generated yet: the build sends them, shown here as "
                     "placeholders" if unknown else "")
        facts.append(("conversation", line))
    facts.append(("model", f"{m.name}, {m.mode} mode, temperature {req.temperature}, top_p {req.top_p}, "
                           f"seed {req.seed}" + (f", no_repeat_ngram {req.no_repeat}" if req.no_repeat else "")))
    cap = (f"{req.max_tokens}" + ("" if req.max_tokens == m.max_tokens else f" (model max_tokens {m.max_tokens})")
           + (f"; a sentence end is favoured from output token {req.wrap_up} on (wrap_up)" if req.wrap_up else "")
           + (f"; no end before {req.min_tokens} tokens (the output's lower word bound)" if req.min_tokens else ""))
    facts.append(("max_tokens", cap))
    facts.append(("stop", json.dumps(list(req.stop), ensure_ascii=False) if req.stop else "none (the token cap, or the model's end of turn)"))
    c = req.constraint
    facts.append(("output", {"text": "free text", "select": f"one of {json.dumps(list(c.options), ensure_ascii=False)}",
                             "regex": f"matching /{c.pattern}/", "json": "a JSON object (its schema constrains decoding)"}[c.kind]))
    if s.prompt_tokens is not None:
        unknown = any(text is None for _, text in s.messages)
        facts.append(("prompt", f"{'at least ' if unknown else ''}{s.prompt_tokens} tokens; with max_tokens "
                                f"{'≥ ' if unknown else ''}{s.prompt_tokens + req.max_tokens} of the context's {m.context}"))
    facts.append(("cache", {"cached": "a completion is cached (a build reuses it)", "new": "not cached: a build generates it",
                            "unknown": "no cache yet"}[s.cache]))
    return facts


def _round(s: Shown) -> str:
    """The `round` fact: the first round (the render step's rows), or a later, quota round's row."""
    if not s.rr.later:
        return "first"
    if s.cache == "cached":
        return "later (quota): a build's quota round generated it (its filters had dropped rows)"
    return "later (quota): not in the first round; a build plans it only if its filters drop enough rows"


def as_text(shown: list[Shown], templated: bool = False) -> str:
    """Each row: a header, its facts, then its messages (or, `templated`, the chat-templated text)."""
    out: list[str] = []
    for s in shown:
        out.append(f"━━ {s.variant.id} · {s.rr.row.key} " + "━" * max(3, 60 - len(s.variant.id) - len(s.rr.row.key)))
        facts = _facts(s)
        width = max(len(k) for k, _ in facts)
        out += [f"{k:<{width}}  {val}" for k, val in facts]
        if templated and s.templated is not None:
            applied = " (chat template applied)" if s.rr.request.mode == "chat" else ""
            out += ["", f"── as the model reads it{applied} ──", s.templated]
        else:
            for k, (role, content) in enumerate(s.messages):
                out += ["", f"── {'prompt' if role == 'text' else role} ──",
                        _placeholder(k) if content is None else content]
            if s.rr.request.prefill:
                out += ["", "── the answer starts with (prefill: the model continues it) ──", s.rr.request.prefill]
        if s.judge is not None:
            j = s.variant.filter.judge
            assert j is not None
            out += ["", f"── judge: model {j.model}, answers one of {json.dumps(list(s.judge.constraint.options))}, "
                        f"keeps {j.keep_op} {j.keep_score} ──"]
            for role, content in s.judge.messages:
                out += [f"[{'prompt' if role == 'text' else role}]", content]
        out.append("")
    return "\n".join(out)


def as_json(shown: list[Shown]) -> str:
    """One object per row (schema_version 1): the request exactly, and the facts."""
    rows: list[dict[str, Any]] = []
    for s in shown:
        r, req = s.rr.row, s.rr.request
        rows.append({
            "task": s.variant.task, "variant": s.variant.name, "row": r.key, "round": "later" if s.rr.later else "first",
            "label": r.label,
            "seed_id": r.seed.id if r.seed is not None else None,
            "doc": {"id": r.hit.doc.id, "rank": r.hit.rank, "similarity": round(r.hit.similarity, 6)} if r.hit else None,
            "demos": [{"seed_id": x.id, "doc_id": d.id if d else None} for x, d in r.demos],
            "attributes": r.attrs, "persona": r.persona,
            "conversation": {"id": r.conversation, "turn": r.turn, "missing_turns": s.rr.missing} if r.conversation else None,
            "model": s.model.name, "mode": req.mode,
            "messages": [{"role": role, "content": content} for role, content in s.messages],
            "prefill": req.prefill or None,
            "avoid": {"texts": len(req.avoid), "words": req.avoid_words} if req.avoid else None,
            "no_repeat_ngram": req.no_repeat or None,
            "wrap_up": req.wrap_up or None,
            "min_tokens": req.min_tokens or None,
            "templated": s.templated, "prompt_tokens": s.prompt_tokens,
            "max_tokens": req.max_tokens, "stop": list(req.stop), "temperature": req.temperature, "top_p": req.top_p,
            "seed": req.seed, "constraint": {"kind": req.constraint.kind, "options": list(req.constraint.options),
                                             "pattern": req.constraint.pattern,
                                             "schema": json.loads(req.constraint.schema) if req.constraint.schema else None},
            "cache": s.cache,
            "judge": None if s.judge is None else {
                "messages": [{"role": role, "content": content} for role, content in s.judge.messages],
                "options": list(s.judge.constraint.options)},
        })
    return json.dumps({"schema_version": 1, "rows": rows}, indent=2, ensure_ascii=False) + "\n"
