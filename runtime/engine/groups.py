"""The generation engine: one generate node's rows, in fixed groups, through the cache.

Groups. A node's rows are chunked in plan order into groups of `width` (the backend's capacity,
recorded in the manifest and the event log). Conversation turns depend on earlier turns, so rows
are grouped per turn: all turn-0 rows in plan order, chunked; then turn 1; and so on. The groups
are therefore a pure function of the plan and the width — the same spec, data and settings
regroup identically, so a kill -9 loses and regenerates the same groups. Which rows share a decode
step is not fixed: the llama backend's loop refills slots across groups (continuous batching),
and its decoding is batch-invariant, so a row's completion depends on its request alone.

Rounds. A node's first round is its planned rows; a quota round (runtime/engine/quota.py) appends more
rows, grouped the same way among themselves, after the node's earlier groups.

Readiness. A group is ready when each of its rows' own inputs exist: for a conversation turn,
the completion of the previous turn of the same conversation. The scheduler dispatches a group
the moment it is ready, across variants and tasks.

Atomicity. A group is cached only whole: its completions are committed in one SQLite transaction
when it finishes, and a group with any row missing from the cache is generated again, all of it.
A `kill -9` at any moment therefore loses at most the groups in flight, and the rerun regenerates
exactly those, in the same composition.

Once values. A `once NAME { per = … }` block adds one row per distinct key (the value of the
`per` field) the first time a round's rows bring that key; the rows with that key are ready only
after it, and their prompts read its completion as `{{ once.NAME }}`. Its request is a function of
the block and the key alone, so it is cached once and shared by every row and round with the key.
The key rows come first in their round's groups (turn -1) and are not rows of the result.

History. A conversation turn is sent with its conversation's earlier turns, the oldest left out
where they would overflow the model's context (runtime/prompting/history.py; `synthc plan` fits them the
same way, so the cache keys agree). The turns left out are counted per row (`dropped`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Sequence

from synthc.compiler import ir
from synthc.runtime.backends.base import Completion, ContextOverflow, Request, would_generate
from synthc.runtime.store.cache import Cache
from synthc.runtime.store.keys import generation_key
from synthc.runtime.errors import RunFailed, fail
from synthc.runtime.prompting.history import Fit
from synthc.runtime.prompting.rows import Planned, build_once_request, build_request
from synthc.runtime.prompting.scope import once_key

__all__ = ["Generation", "GenerateJob", "group_rows"]


@dataclass(frozen=True, slots=True)
class Generation:
    """One row's generation: the planned row, the request sent, the completion, its cache key."""

    row: Planned
    request: Request
    completion: Completion
    key: str
    dropped: int = 0  # earlier conversation turns left out of `request` to fit the context
    once: tuple[tuple[str, str, str], ...] = ()  # (block, key, cache key) of each `once` value it read


def group_rows(rows: Sequence[Planned], width: int) -> list[list[int]]:
    """Row indices per group: each turn's rows in plan order, chunked by `width`.

    >>> rows = [Planned(key=str(i), label=None, turn=i % 2) for i in range(5)]
    >>> group_rows(rows, 2)
    [[0, 2], [4], [1, 3]]
    """
    width = max(1, width)
    groups: list[list[int]] = []
    for turn in sorted({r.turn for r in rows}):
        members = [i for i, r in enumerate(rows) if r.turn == turn]
        groups += [members[k:k + width] for k in range(0, len(members), width)]
    return groups


class GenerateJob:
    """The rows of one generate node and the state of its groups (waiting, running, done)."""

    def __init__(self, node: str, v: ir.Variant, program: ir.Program, rows: list[Planned], width: int,
                 fingerprint: str, fit: Fit | None = None, *, model: str | None = None,
                 build: Callable[[Planned], tuple[Request, str]] | None = None) -> None:
        """`fit`: trims a conversation turn's history to the model's context (runtime/prompting/history.py);
        None sends every earlier turn. `model` and `build`: a job whose rows are not the variant's
        own generations (the judge's scores, runtime/prompting/judge.py): the model they go to and each
        row's request (default: the variant's model, `rows.build_request`)."""
        self.node, self.variant, self.program = node, v, program
        self.model = model or v.model
        self.build = build
        self.width = max(1, width)
        self.fingerprint = fingerprint
        self.fit = fit
        self.rows: list[Planned] = []
        self.groups: list[list[int]] = []
        self.state: list[str] = []
        self.requests: list[Request | None] = []
        self.keys: list[str] = []
        self.user_messages: list[str] = []
        self.dropped: list[int] = []  # per row: earlier turns left out of its request
        self.completions: list[Completion | None] = []
        self.done_rows = 0
        # The previous turn of each conversation row (its history must exist before it is sent).
        self.previous: dict[int, int] = {}
        self._last: dict[str, int] = {}  # conversation -> its latest row so far
        # `once` blocks: each data row's key rows by block name, and the key row of each (block, key).
        self.once_of: dict[int, dict[str, int]] = {}
        self._once_rows: dict[tuple[str, str], int] = {}
        self.extend(rows)

    def extend(self, rows: Sequence[Planned]) -> None:
        """Append a round of rows (the first, or a quota round: runtime/engine/quota.py). Its groups are
        chunked from its own rows alone, so earlier groups keep their composition; a conversation
        turn of the new round follows the latest turn of the same conversation."""
        base = len(self.rows)
        rows = list(rows) + self._once_rows_for(rows, base)
        self.rows += rows
        self.groups += [[base + i for i in g] for g in group_rows(rows, self.width)]
        self.state += ["waiting"] * (len(self.groups) - len(self.state))
        self.requests += [None] * len(rows)
        self.keys += [""] * len(rows)
        self.user_messages += [""] * len(rows)
        self.dropped += [0] * len(rows)
        self.completions += [None] * len(rows)
        for i, r in enumerate(rows, start=base):
            if r.conversation:
                if r.conversation in self._last:
                    self.previous[i] = self._last[r.conversation]
                self._last[r.conversation] = i

    def _once_rows_for(self, rows: Sequence[Planned], base: int) -> list[Planned]:
        """The key rows a round needs that earlier rounds did not add (in first-use order), and
        each of its data rows' dependencies on them. A judge's job has no `once` values."""
        v = self.variant
        if self.build is not None or not v.once:
            return []
        new: list[Planned] = []
        for i, r in enumerate(rows, start=base):
            for o in v.once:
                key = once_key(v, self.program, r, o)
                if (o.name, key) not in self._once_rows:
                    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
                    new.append(Planned(key=f"once/{o.name}/{digest}", label=None, turn=-1, once=o.name,
                                       attrs={"key": key}))
                    self._once_rows[(o.name, key)] = base + len(rows) + len(new) - 1
                self.once_of.setdefault(i, {})[o.name] = self._once_rows[(o.name, key)]
        return new

    def _inputs(self, i: int) -> list[int]:
        """The rows whose completions row `i`'s request needs."""
        prev = self.previous.get(i)
        return ([] if prev is None else [prev]) + list(self.once_of.get(i, {}).values())

    @property
    def finished(self) -> bool:
        return all(s == "done" for s in self.state)

    def ready(self) -> list[int]:
        """Waiting groups whose rows' inputs all exist, in group order."""
        return [g for g, s in enumerate(self.state) if s == "waiting"
                and all(self.completions[j] is not None for i in self.groups[g] for j in self._inputs(i))]

    def _history(self, i: int) -> list[tuple[str, str]]:
        chain: list[int] = []
        j = self.previous.get(i)
        while j is not None:
            chain.append(j)
            j = self.previous.get(j)
        history: list[tuple[str, str]] = []
        for j in reversed(chain):
            done, sent = self.completions[j], self.requests[j]
            assert done is not None
            # the turn as the model said it: the prefilled start it continued, then its completion
            history += [("user", self.user_messages[j]), ("assistant", (sent.prefill if sent else "") + done.text)]
        return history

    def prepare(self, g: int) -> list[Request]:
        """Build the group's requests (and cache keys) now that their inputs exist."""
        out = []
        for i in self.groups[g]:
            row = self.rows[i]
            if row.once is not None:
                o = next(o for o in self.variant.once or () if o.name == row.once)
                req = build_once_request(self.variant, self.program, o, row.attrs["key"])
                self.requests[i], self.user_messages[i] = req, req.messages[-1][1]
                self.keys[i] = generation_key(req, self.fingerprint)
                out.append(req)
                continue
            history = self._history(i)
            if self.build is not None:
                req, user = self.build(self.rows[i])
            else:
                req, user = build_request(self.variant, self.program, self.rows[i], history, self._once_values(i))
            if history and self.fit is not None:
                fitted = self.fit(req)
                req, self.dropped[i] = fitted.request, fitted.dropped
            self.requests[i], self.user_messages[i] = req, user
            self.keys[i] = generation_key(req, self.fingerprint)
            out.append(req)
        return out

    def _once_values(self, i: int) -> dict[str, str]:
        """The values row `i` reads; one a preview has not generated is left out (the prompt marks
        it: `rows.once_placeholder`)."""
        out = {}
        for name, j in self.once_of.get(i, {}).items():
            done = self.completions[j]
            assert done is not None
            if not would_generate(done):
                out[name] = done.text
        return out

    def generation(self, i: int) -> Generation:
        """Row `i`'s generation (done), with the `once` values it read."""
        req, comp = self.requests[i], self.completions[i]
        assert req is not None and comp is not None
        once = tuple((name, self.rows[j].attrs["key"], self.keys[j]) for name, j in self.once_of.get(i, {}).items())
        return Generation(self.rows[i], req, comp, self.keys[i], self.dropped[i], once)

    def data_rows(self) -> list[int]:
        """Indices of the rows that are the node's generations (not `once` key rows)."""
        return [i for i, r in enumerate(self.rows) if r.once is None]

    def trimmed(self) -> tuple[int, int]:
        """(rows sent with earlier turns left out, turns left out in all), over every round."""
        return sum(d > 0 for d in self.dropped), sum(self.dropped)

    def cached(self, g: int, cache: Cache) -> list[Completion] | None:
        """The group's completions when every one of them is in the cache, else None."""
        hits = [cache.get(self.keys[i]) for i in self.groups[g]]
        return None if any(h is None for h in hits) else hits  # type: ignore[return-value]

    def commit(self, g: int, completions: Sequence[Completion]) -> list[int]:
        """Record the group's completions; returns the row indices it completed."""
        members = self.groups[g]
        if len(completions) != len(members):
            raise fail("E502", f"generation failed for `{self.variant.id}`: the backend answered "
                       f"{len(completions)} completions for {len(members)} requests", self.variant.origin,
                       "in this task")
        for i, c in zip(members, completions):
            self.completions[i] = c
        self.state[g] = "done"
        self.done_rows += len(members)
        return members

    def entries(self, g: int) -> list[tuple[str, str, Completion]]:
        """(cache key, row key, completion) of a finished group, for one cache transaction. A row
        a server answered with garbage (finish "error") is left out: the parse step drops it with
        its reason, and a rerun asks again."""
        out = []
        for i in self.groups[g]:
            c = self.completions[i]
            assert c is not None
            if c.finish != "error":
                out.append((self.keys[i], self.rows[i].key, c))
        return out

    def failure(self, exc: BaseException, saved: int = 0) -> RunFailed:
        """The diagnostic for a group that raised (`saved`: rows already committed to the cache)."""
        from synthc.runtime.models.served import endpoint_failure, is_endpoint_error

        v = self.variant
        if isinstance(exc, RunFailed):
            return exc
        if is_endpoint_error(exc):
            return endpoint_failure(exc, v.origin, "in this task", saved=saved)
        if isinstance(exc, ContextOverflow):
            return fail("E506", f"prompt does not fit the context of model `{v.model}`: {exc}", v.origin,
                        "in this task", help="raise `context`, shorten the prompt, or lower `shots`")
        return fail("E502", f"generation failed for `{v.id}`: {type(exc).__name__}: {exc}", v.origin,
                    "in this task", help="loosen the output constraint or raise `max_tokens`")

    def result(self) -> list[Generation]:
        """Every row's generation, in plan order (`once` key rows are inputs, not rows)."""
        return [self.generation(i) for i in self.data_rows()]
