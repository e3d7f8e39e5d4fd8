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
from collections.abc import Sequence
from typing import Any

from synthc.compiler import ir
from synthc.compiler.filters.near_copy import guards_demos
from synthc.runtime.backends.base import Constraint, Request
from synthc.runtime.backends.constraints import kind
from synthc.runtime.backends.constraints.json import json_schema  # noqa: F401  (re-exported)
from synthc.runtime.io.data import Record
from synthc.runtime.retrieval.corpora import Doc, Hit
from synthc.runtime.prompting.prompts import example_stops
from synthc.runtime.prompting.scope import once_scope, prompt_scope, render, render_demos

__all__ = ["Planned", "Pair", "Planner", "RowPlan", "plan_rows", "label_counts", "build_request", "json_schema",
           "build_once_request", "once_placeholder",
           "variant_constraint", "row_seed", "conversation_id", "diversity_turn"]


@dataclass(frozen=True, slots=True)
class Pair:
    """A retrieved (seed, document) pair: a synthesis input, or a RETRICL demo."""

    seed: Record
    hit: Hit


@dataclass(slots=True)
class Planned:
    key: str  # unique within the variant, sortable: "<label>/<index>"
    label: str | None
    seed: Record | None = None
    hit: Hit | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    demos: list[tuple[Record, Doc | None]] = field(default_factory=list)
    persona: dict[str, Any] | None = None
    conversation: str | None = None  # conversation id; turns run in key order
    turn: int = 0
    seed_value: int = 0
    index: int = 0  # position among its label's rows, counted on across quota rounds
    once: str | None = None  # a `once` block's row (runtime/engine/groups.py): the block's name; `key` is its key


def row_seed(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "big")


def label_counts(v: ir.Variant, labels: tuple[str, ...]) -> dict[str, int]:
    """Rows wanted per label: `per_label`, or `total` split evenly (the first labels get the rest)."""
    if v.per_label is not None:
        return {lb: v.per_label for lb in labels}
    base, extra = divmod(v.total or 0, max(1, len(labels)))
    return {lb: base + (i < extra) for i, lb in enumerate(labels)}


class RowPlan(list[Planned]):
    """A variant's planned rows — the first round, in generation order — and the `Planner` that
    plans more of them (quota rounds, runtime/engine/quota.py). A list, so every consumer of the render
    step's value (generation, `plan --tokens`, `show`) sees the rows it always saw."""

    def __init__(self, rows: list[Planned], planner: Planner) -> None:
        super().__init__(rows)
        self.planner = planner


@dataclass(slots=True)
class Planner:
    """Plans rows `start..start+n` of a label: the same rows whatever else was planned before,
    because every choice is seeded from names (task seed, label, row index), so a quota round's
    rows are as reproducible as the first round's.

    `screened`: (seed id, document id) of retrieved inputs the label oracle turned away
    (`retrieve { screen = true }`). The label's order is drawn over every input as without
    screening and a screened input is skipped where it stands, keeping its number: the rows the
    screen leaves are the very rows (keys, seeds, prompts) of an unscreened build, so their cached
    generations serve, and only replacements are new."""

    v: ir.Variant
    program: ir.Program
    seeds: list[Record] | None
    inputs: list[Pair] | None
    demo_pairs: list[Pair] | None
    personas: dict[str, dict[str, Any]] | None
    screened: frozenset[tuple[str, str]] = frozenset()
    _orders: dict[str, tuple[list[Any], list[int]]] = field(default_factory=dict)

    @property
    def labels(self) -> tuple[str, ...]:
        if self.v.kind == "qa_pairs":
            return ()
        return self.program.label_set(self.v.labels).names if self.v.labels else ("",)

    def first(self) -> RowPlan:
        """The first round: each label's wanted rows (fewer where its retrieved inputs run out)."""
        v = self.v
        if v.kind == "qa_pairs":
            rows = [Planned(key=f"{i:06d}", label=None, seed=r, index=i) for i, r in enumerate(self.seeds or [])]
            return RowPlan(self._finish(rows[: v.total] if v.total is not None else rows), self)
        counts = label_counts(v, self.labels)
        rows: list[Planned] = []
        for lb in self.labels:
            n = counts[lb]
            if self.inputs is not None:
                n = min(n, len(self._order(lb)[1]))
            rows += self.more(lb, 0, n, finish=False)
        return RowPlan(self._finish(rows), self)

    def more(self, label: str, start: int, n: int, *, finish: bool = True) -> list[Planned]:
        """The label's planned rows `start..start+n-1`, counting rows, not numbers (a quota round
        after `start` requests): fewer when its retrieved inputs run out (each (seed, document)
        pair is one input, used once; rows beyond the first round's sample take the label's other
        pairs; a screened pair is skipped, its number with it). Seed rows cycle."""
        if self.inputs is None:
            return self._rows(label, range(start, start + n), finish)
        return self._rows(label, self._order(label)[1][start:start + n], finish)

    def numbered(self, label: str, first: int, n: int) -> list[Planned]:
        """Up to `n` of the label's rows numbered `first` or more (the number in `label/000042`):
        where previews ask for rows by key. The same rows as `more` where nothing is screened."""
        if self.inputs is None:
            return self._rows(label, range(first, first + n), True)
        return self._rows(label, [i for i in self._order(label)[1] if i >= first][:n], True)

    def inputs_of(self, label: str) -> int:
        """How many numbers the label's rows can take: its retrieved inputs, screened ones too."""
        return len(self._order(label)[0])

    def _rows(self, label: str, numbers: Sequence[int], finish: bool) -> list[Planned]:
        order, _ = self._order(label)
        rows = []
        for i in numbers:
            if self.inputs is not None:
                p = order[i]
                rows.append(Planned(key=f"{label}/{i:06d}", label=label, seed=p.seed, hit=p.hit, index=i))
            else:
                rows.append(Planned(key=f"{label}/{i:06d}", label=label,
                                    seed=order[i % len(order)] if order else None, index=i))
        return self._finish(rows) if finish else rows

    def _order(self, label: str) -> tuple[list[Any], list[int]]:
        """The label's inputs (or seed rows) in planning order — the first round's sample, then
        the rest — and the positions in it that may be planned (all but the screened inputs)."""
        if label not in self._orders:
            rng = random.Random(row_seed(self.v.seed, self.v.task, "plan", label))
            if self.inputs is not None:
                pool = [p for p in self.inputs if p.seed.label == label]
                first = rng.sample(pool, min(label_counts(self.v, self.labels)[label], len(pool)))
                chosen = {id(p) for p in first}
                rest = [p for p in pool if id(p) not in chosen]
                random.Random(row_seed(self.v.seed, self.v.task, "plan-more", label)).shuffle(rest)
                order = first + rest
                kept = [i for i, p in enumerate(order) if (p.seed.id, p.hit.doc.id) not in self.screened]
                self._orders[label] = (order, kept)
            else:
                own = [s for s in self.seeds or [] if s.label == label]
                rng.shuffle(own)
                self._orders[label] = (own, list(range(len(own))))
        return self._orders[label]

    def _finish(self, rows: list[Planned]) -> list[Planned]:
        """Each row's RNG seed, attributes, persona, demos and conversation turn: all from names."""
        v = self.v
        model = self.program.model(v.model)
        for r in rows:
            r.seed_value = row_seed(model.seed, v.seed, v.task, r.key)
            rng = random.Random(r.seed_value)
            r.attrs = {name: rng.choice(values) for name, values in v.vary}
            if self.personas is not None and r.seed is not None:
                r.persona = self.personas.get(r.seed.id, {})
        if v.fewshot is not None:
            _assign_demos(v, rows, self.seeds or [], self.demo_pairs or [], model.seed)
        if v.conversation is not None:
            _assign_conversations(v, rows)
        return rows


def plan_rows(v: ir.Variant, program: ir.Program, seeds: list[Record] | None, inputs: list[Pair] | None,
              demo_pairs: list[Pair] | None, personas: dict[str, dict[str, Any]] | None,
              screened: frozenset[tuple[str, str]] = frozenset()) -> RowPlan:
    """All rows of one variant's first round, in generation order."""
    return Planner(v, program, seeds, inputs, demo_pairs, personas, screened).first()


def _assign_demos(v: ir.Variant, rows: list[Planned], seeds: list[Record], pairs: list[Pair], model_seed: int) -> None:
    """Each row's demos: a uniform sample of its pool (with or without replacement), in a uniformly
    random order. With `shared > 0` the rows of a block (`block` consecutive rows of a label)
    take their first `shared` demos from one stream drawn per block, so their prompts share that
    prefix; each row's own draw is still exactly the independent one's (see `_DemoStream`)."""
    fs = v.fewshot
    assert fs is not None
    if fs.source == "retrieved":
        everything: list[tuple[Record, Doc | None]] = [(p.seed, p.hit.doc) for p in pairs]
    else:
        everything = [(s, None) for s in seeds]
    pools: dict[str | None, list[tuple[Record, Doc | None]]] = {}
    streams: dict[tuple[str | None, int], _DemoStream] = {}
    for r in rows:
        group = r.label if fs.same_label and r.label is not None else None  # None: the whole pool
        if group not in pools:
            pools[group] = everything if group is None else [p for p in everything if p[0].label == group]
        pool = pools[group]
        # Indices into the label's pool: the row's allowed demos, in pool order.
        allowed = [i for i, p in enumerate(pool)
                   if not (fs.exclude_self and r.seed is not None and p[0].id == r.seed.id)]
        if not allowed:
            continue
        rng = random.Random(row_seed(r.seed_value, "demos"))
        if fs.shared == 0:  # the independent draw, as it always was
            picks = ([rng.choice(allowed) for _ in range(fs.shots)] if fs.replace
                     else rng.sample(allowed, min(fs.shots, len(allowed))))
        else:
            key = (group, r.index // fs.block)
            if key not in streams:
                streams[key] = _DemoStream(len(pool), fs.replace,
                                           random.Random(row_seed(model_seed, v.seed, v.task, "demo-prefix", *key)))
            picks = _draw(streams[key], allowed, fs.shots, fs.shared, fs.replace, rng)
        r.demos = [pool[i] for i in picks]


class _DemoStream:
    """One block's shared draw over its pool's indices: a uniformly random permutation (without
    replacement) or an endless i.i.d. sequence (with replacement), drawn lazily and the same for
    every row of the block. A row keeps only the indices it may use — the sub-order a uniform
    permutation induces on a subset is a uniform permutation of the subset, and i.i.d. draws kept
    when they fall in a subset are i.i.d. uniform on it — so the row's first `shared` demos are
    distributed exactly as its own first `shared` draws would be."""

    def __init__(self, n: int, replace: bool, rng: random.Random) -> None:
        self.n, self.replace, self.rng = n, replace, rng
        self.drawn: list[int] = []
        if not replace:
            self.drawn = list(range(n))
            rng.shuffle(self.drawn)

    def kept(self, allowed: set[int], m: int) -> list[int]:
        """The first `m` drawn indices in `allowed` (fewer when a permutation runs out)."""
        out: list[int] = []
        i = 0
        while len(out) < m:
            if i == len(self.drawn):
                if not self.replace:
                    break
                self.drawn.append(self.rng.randrange(self.n))
            if self.drawn[i] in allowed:
                out.append(self.drawn[i])
            i += 1
        return out


def _draw(stream: _DemoStream, allowed: list[int], shots: int, shared: int, replace: bool,
          rng: random.Random) -> list[int]:
    """A row's demo indices: the block's first `shared` allowed ones, then the rest drawn by the
    row alone (from what the prefix left, without replacement). Given the prefix, the rest is a
    uniform draw of the remainder, so the row's ordered sample is uniform — the independent
    draw's distribution — while rows of a block are correlated through the prefix."""
    if replace:
        prefix = stream.kept(set(allowed), min(shared, shots))
        return prefix + [rng.choice(allowed) for _ in range(shots - len(prefix))]
    k = min(shots, len(allowed))
    prefix = stream.kept(set(allowed), min(shared, k))
    taken = set(prefix)
    return prefix + rng.sample([i for i in allowed if i not in taken], k - len(prefix))


def conversation_id(label: str | None, index: int, reset_after: int) -> tuple[str, int]:
    """Li et al.: one long conversation per label, a fresh one every `reset_after` turns (the
    context bound). Row `index` of the label is turn `index % reset_after` of conversation
    `index // reset_after`; the row's `vary` attributes change turn by turn inside it, and a quota
    round's rows (higher indices) continue the label's conversation rather than start short ones.

    >>> conversation_id("pos", 5, 4)
    ('f4a3898fd8-1', 1)
    """
    gid = hashlib.sha256(json.dumps([label], ensure_ascii=False).encode()).hexdigest()[:10]
    return f"{gid}-{index // reset_after}", index % reset_after


def _assign_conversations(v: ir.Variant, rows: list[Planned]) -> None:
    conv = v.conversation
    assert conv is not None
    for r in rows:
        r.conversation, r.turn = conversation_id(r.label, r.index, conv.reset_after)


def diversity_turn(conv: ir.Conversation, turn: int) -> bool:
    """The diversity prompt recurs every `every` turns: at turns every, 2·every, … (never the first)."""
    return turn > 0 and turn % conv.every == 0


def _token_cap(v: ir.Variant, model: ir.Model) -> int:
    """Word limits are also hard token caps: about 1.6 tokens per English word, plus slack."""
    if v.output.structured:
        return model.max_tokens
    args = dict(v.output.fields[0].args)
    if "words" in args:
        return min(model.max_tokens, math.ceil(args["words"][1] * 1.6) + 8)
    return model.max_tokens


def _token_floor(v: ir.Variant) -> int:
    """A free-text output's lower word bound is also the fewest tokens it may end at: a
    whitespace-separated word takes at least one token (byte-level BPE and SentencePiece pieces
    never span a space), so a row that ends sooner is too short for its bound — the decoder is kept
    from ending it (end-of-text banned) instead of the `words` filter dropping it afterwards."""
    if v.output.structured:
        return 0
    return int(dict(v.output.fields[0].args).get("words", (0, 0))[0])


def variant_constraint(v: ir.Variant, program: ir.Program) -> Constraint:
    """What every request of `v` constrains its output to (`synthc doctor` probes a server with it)."""
    return _constraint(v.output, program.label_set(v.labels).names if v.labels else ())


def _constraint(output: ir.Output, labels: tuple[str, ...]) -> Constraint:
    """The output's registered kind builds it (compiler/outputs/ decides the kind; its runtime
    half, runtime/backends/constraints/, the constraint)."""
    return kind(output.constraint_kind).build(output, labels)


def once_placeholder(name: str) -> str:
    """What `{{ once.NAME }}` reads where its value is not generated yet (`synthc show` / `plan
    --tokens` before a build): marked, so nobody takes it for a generation."""
    return f"<once.{name}: not generated yet>"


def build_once_request(v: ir.Variant, program: ir.Program, o: ir.Once, key: str) -> Request:
    """The request generating `once` block `o`'s value for `key`: free text under the variant's
    model and sampling, seeded from names (task, block, key), so every row — of any round — with
    that key shares one request and one cache entry."""
    model = program.model(v.model)
    prompt = render(o.prompt, once_scope(v, program, key))
    messages = (("user", prompt),) if model.mode == "chat" else (("text", prompt),)
    return Request(messages=messages, mode=model.mode, constraint=Constraint(), max_tokens=o.max_tokens,
                   temperature=model.temperature, top_p=model.top_p, stop=model.stop,
                   seed=row_seed(model.seed, v.seed, v.task, "once", o.name, key), no_repeat=model.no_repeat_ngram or 0, wrap_up=model.wrap_up or 0)


def build_request(v: ir.Variant, program: ir.Program, r: Planned, history: list[tuple[str, str]],
                  once: dict[str, str] | None = None) -> tuple[Request, str]:
    """The request for one row, and the user message it sends (kept for later turns' history).
    `once`: the row's `once` values by block name (placeholders where absent)."""
    model = program.model(v.model)
    if v.once:
        once = {o.name: (once or {}).get(o.name, once_placeholder(o.name)) for o in v.once}
    s = prompt_scope(v, program, r, render_demos(v, program, r), once)
    prompt = render(v.prompt, s)
    system = render(v.system, s) if v.system is not None else None
    if v.conversation is not None and diversity_turn(v.conversation, r.turn):
        prompt = f"{prompt}\n{v.conversation.diversity_prompt}"
    if model.mode == "chat":
        messages: list[tuple[str, str]] = [("system", system)] if system else []
        messages += history + [("user", prompt)]
        shared = 1 if system else 0
    else:
        text = (system + "\n\n" if system else "") + prompt
        messages, shared = [("text", text)], 0
    constraint = variant_constraint(v, program)
    req = Request(messages=tuple(messages), mode=model.mode, constraint=constraint,
                  max_tokens=_token_cap(v, model), temperature=model.temperature, top_p=model.top_p,
                  stop=model.stop + tuple(s for s in example_stops(v, model) if s not in model.stop),
                  seed=r.seed_value, shared=shared, prefill=v.parse.prefill or "",
                  no_repeat=model.no_repeat_ngram or 0, wrap_up=model.wrap_up or 0, min_tokens=_token_floor(v),
                  **_avoid(v, r))
    return req, prompt


def _avoid(v: ir.Variant, r: Planned) -> dict[str, Any]:
    """The row's demo texts, when a `near_copy` filter would drop a copy of them (`guards_demos`):
    the decoder is steered off copying them (runtime/backends/copy_guard.py) rather than the row
    spent."""
    if not r.demos or not guards_demos(v):
        return {}
    assert v.filter.near_copy is not None
    texts = tuple(dict.fromkeys(rec.text for rec, _ in r.demos))  # in order, once each
    return {"avoid": texts, "avoid_words": v.filter.near_copy.ngram}
