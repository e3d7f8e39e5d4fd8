"""Turning a variant's IR plus loaded data into planned rows, and rows into backend requests.

Every choice here is seeded from names (task seed, label, row index), never from iteration order
of hashes, so the same spec and data always plan the same rows in the same order.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass, field
from typing import Any

from synthc.compiler import ir
from synthc.runtime.backends.base import Constraint, Request
from synthc.runtime.data import Row
from synthc.runtime.retrieval import Doc, Hit
from synthc.runtime.prompts import example_stops
from synthc.runtime.scope import prompt_scope, render, render_demos

__all__ = ["Planned", "Pair", "plan_rows", "build_request", "json_schema", "row_seed"]


@dataclass(frozen=True, slots=True)
class Pair:
    """A retrieved (seed, document) pair: a synthesis input, or a RETRICL demo."""

    seed: Row
    hit: Hit


@dataclass(slots=True)
class Planned:
    key: str  # unique within the variant, sortable: "<label>/<index>"
    label: str | None
    seed: Row | None = None
    hit: Hit | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    demos: list[tuple[Row, Doc | None]] = field(default_factory=list)
    persona: dict[str, Any] | None = None
    conversation: str | None = None  # conversation id; turns run in key order
    turn: int = 0
    seed_value: int = 0


def row_seed(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _counts(v: ir.Variant, labels: tuple[str, ...]) -> dict[str, int]:
    if v.per_label is not None:
        return {lb: v.per_label for lb in labels}
    base, extra = divmod(v.total or 0, max(1, len(labels)))
    return {lb: base + (i < extra) for i, lb in enumerate(labels)}


def plan_rows(v: ir.Variant, program: ir.Program, seeds: list[Row] | None, inputs: list[Pair] | None,
              demo_pairs: list[Pair] | None, personas: dict[str, dict[str, Any]] | None) -> list[Planned]:
    """All rows of one variant, in generation order."""
    model = program.model(v.model)
    if v.kind == "qa_pairs":
        rows = [Planned(key=f"{i:06d}", label=None, seed=r) for i, r in enumerate(seeds or [])]
        if v.total is not None:
            rows = rows[: v.total]
    else:
        labels = program.label_set(v.labels).names if v.labels else ("",)
        counts = _counts(v, labels)
        rows = []
        for lb in labels:
            rng = random.Random(row_seed(v.seed, v.task, "plan", lb))
            pool = [p for p in inputs if p.seed.label == lb] if inputs is not None else None
            if pool is not None:
                pool = rng.sample(pool, min(counts[lb], len(pool)))
                rows += [Planned(key=f"{lb}/{i:06d}", label=lb, seed=p.seed, hit=p.hit) for i, p in enumerate(pool)]
                continue
            own = [s for s in seeds or [] if s.label == lb]
            rng.shuffle(own)
            for i in range(counts[lb]):
                rows.append(Planned(key=f"{lb}/{i:06d}", label=lb, seed=own[i % len(own)] if own else None))
    for r in rows:
        r.seed_value = row_seed(model.seed, v.seed, v.task, r.key)
        rng = random.Random(r.seed_value)
        r.attrs = {name: rng.choice(values) for name, values in v.vary}
        if personas is not None and r.seed is not None:
            r.persona = personas.get(r.seed.id, {})
    if v.fewshot is not None:
        _assign_demos(v, rows, seeds or [], demo_pairs or [])
    if v.conversation is not None:
        _assign_conversations(v, rows)
    return rows


def _assign_demos(v: ir.Variant, rows: list[Planned], seeds: list[Row], pairs: list[Pair]) -> None:
    fs = v.fewshot
    assert fs is not None
    for r in rows:
        rng = random.Random(row_seed(r.seed_value, "demos"))
        if fs.source == "retrieved":
            pool: list[tuple[Row, Doc | None]] = [(p.seed, p.hit.doc) for p in pairs]
        else:
            pool = [(s, None) for s in seeds]
        if fs.same_label and r.label is not None:
            pool = [p for p in pool if p[0].label == r.label]
        if fs.exclude_self and r.seed is not None:
            pool = [p for p in pool if p[0].id != r.seed.id]
        if not pool:
            continue
        if fs.replace:
            r.demos = [rng.choice(pool) for _ in range(fs.shots)]
        else:
            r.demos = rng.sample(pool, min(fs.shots, len(pool)))


def _assign_conversations(v: ir.Variant, rows: list[Planned]) -> None:
    """A conversation per (label, attribute combination); a fresh one after `reset_after` turns."""
    conv = v.conversation
    assert conv is not None
    groups: dict[str, list[Planned]] = {}
    for r in rows:
        combo = json.dumps([r.label, sorted(r.attrs.items())], ensure_ascii=False)
        groups.setdefault(combo, []).append(r)
    for combo, members in groups.items():
        gid = hashlib.sha256(combo.encode()).hexdigest()[:10]
        for n, r in enumerate(members):
            r.conversation = f"{gid}-{n // conv.reset_after}"
            r.turn = n % conv.reset_after


def json_schema(output: ir.Output, labels: tuple[str, ...]) -> dict[str, Any]:
    """JSON schema of the declared output: closed objects and bounded fields, because tiny models
    otherwise invent keys or ramble until the context is full (runtime.md gotcha 2)."""
    return _object(output.fields, labels)


def _object(fields: tuple[ir.OutputField, ...], labels: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "object", "properties": {f.name: _field(f, labels) for f in fields},
            "required": [f.name for f in fields], "additionalProperties": False}


def _field(f: ir.OutputField, labels: tuple[str, ...]) -> dict[str, Any]:
    args = dict(f.args)
    if f.type == "object":
        return _object(f.fields, labels)
    if f.type == "label":
        return {"type": "string", "enum": list(labels)}
    if f.type == "choice":
        return {"type": "string", "enum": list(args["options"])}
    if f.type == "bool":
        return {"type": "boolean"}
    if f.type in ("int", "float"):
        out: dict[str, Any] = {"type": "integer" if f.type == "int" else "number"}
        if "range" in args:
            out["minimum"], out["maximum"] = args["range"]
        return out
    if f.type == "regex":
        return {"type": "string", "pattern": args["pattern"]}
    if f.type == "list":
        item = args["of"]
        return {"type": "array", "items": _field(item, labels), "maxItems": args.get("max", 5)}
    out = {"type": "string", "maxLength": _max_chars(args)}
    if "chars" in args:
        out["minLength"] = args["chars"][0]
    return out


def _max_chars(args: dict[str, Any]) -> int:
    if "chars" in args:
        return int(args["chars"][1])
    if "words" in args:
        return int(args["words"][1]) * 8
    return 1000


def _token_cap(v: ir.Variant, model: ir.Model) -> int:
    """Word limits are also hard token caps: about 1.6 tokens per English word, plus slack."""
    if v.output.structured:
        return model.max_tokens
    args = dict(v.output.fields[0].args)
    if "words" in args:
        return min(model.max_tokens, math.ceil(args["words"][1] * 1.6) + 8)
    return model.max_tokens


def _constraint(output: ir.Output, labels: tuple[str, ...]) -> Constraint:
    """A lone label/choice field is a `select`, a lone regex field a `regex`, a lone string free
    text; anything else a JSON object under its schema."""
    if len(output.fields) == 1:
        f = output.fields[0]
        args = dict(f.args)
        if f.type == "label":
            return Constraint(kind="select", options=labels)
        if f.type == "choice":
            return Constraint(kind="select", options=tuple(args["options"]))
        if f.type == "regex":
            return Constraint(kind="regex", pattern=args["pattern"])
        if f.type == "string":
            return Constraint()
    return Constraint(kind="json", schema=json.dumps(json_schema(output, labels), sort_keys=True))


def build_request(v: ir.Variant, program: ir.Program, r: Planned,
                  history: list[tuple[str, str]]) -> tuple[Request, str]:
    """The request for one row, and the user message it sends (kept for later turns' history)."""
    model = program.model(v.model)
    s = prompt_scope(v, program, r, render_demos(v, program, r))
    prompt = render(v.prompt, s)
    system = render(v.system, s) if v.system is not None else None
    if v.conversation is not None and r.turn > 0 and r.turn % v.conversation.every == 0:
        prompt = f"{prompt}\n{v.conversation.diversity_prompt}"
    if model.mode == "chat":
        messages: list[tuple[str, str]] = [("system", system)] if system else []
        messages += history + [("user", prompt)]
        shared = 1 if system else 0
    else:
        text = (system + "\n\n" if system else "") + prompt
        messages, shared = [("text", text)], 0
    labels = program.label_set(v.labels).names if v.labels else ()
    constraint = _constraint(v.output, labels)
    req = Request(messages=tuple(messages), mode=model.mode, constraint=constraint,
                  max_tokens=_token_cap(v, model), temperature=model.temperature, top_p=model.top_p,
                  stop=model.stop + tuple(s for s in example_stops(v, model) if s not in model.stop),
                  seed=r.seed_value, shared=shared)
    return req, prompt
