"""Prefix-affine routing: which server slot each request of a group goes to, and in what order.

llama.cpp's server keeps one prompt cache per slot; a request whose long prefix (few-shot demos,
a shared system prompt) was just evaluated on slot 0 but lands on slot 1 is evaluated again
(llama.cpp #22942). So requests are grouped by their first `PREFIX_CHARS` characters, each group
has a home slot (a hash of that prefix, so the same prefix goes to the same slot in every group of
a build), a group larger than its share spills over to the least-loaded slots, and each slot's
requests are sent one after another in prefix order (longest shared prefixes adjacent), starting
with the prefix the slot served last in the previous group (its cache still holds it).

A pure function of the requests' texts, the slot count and the prefixes each slot served last
(itself a function of the groups sent before, in the scheduler's order): no timing, no server
state — the same sequence of groups is always routed the same way.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

from synthc.runtime.backends.base import Request

__all__ = ["PREFIX_CHARS", "prompt_text", "assign", "prefix_of"]

# Rows sharing fewer characters than this share under ~64 tokens: too little to be worth
# serialising them on one slot. Rows sharing more are grouped; within a group prefix order puts
# the longest shared prefixes next to each other, so finer sharing is still reused.
PREFIX_CHARS = 256


def prompt_text(request: Request) -> str:
    """The request's prompt as one string in the order the server reads it (roles included: a
    different role is a different prefix after the chat template)."""
    if request.mode == "completion":
        return request.messages[0][1]
    return "".join(f"<{role}>\n{content}\n" for role, content in request.messages)


def prefix_of(text: str) -> str:
    """The part of a prompt that decides its group (and its home slot)."""
    return text[:PREFIX_CHARS]


def assign(texts: Sequence[str], slots: int, last: Sequence[str | None] = ()) -> list[list[int]]:
    """For each of `slots` slots, the indices of `texts` it serves, in sending order. `last[s]`:
    the prefix (`prefix_of`) slot s served last, whose group it then serves first."""
    if slots <= 0:
        raise ValueError("routing needs at least one slot")
    groups: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        groups.setdefault(prefix_of(text), []).append(i)
    cap = math.ceil(len(texts) / slots)  # a fair share: no slot serialises much more than the others
    plan: list[list[int]] = [[] for _ in range(slots)]
    # Largest groups first (they are the ones that must spill), ties by prefix: deterministic.
    for prefix, members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        members.sort(key=lambda i: (texts[i], i))  # prefix order inside the group
        home = int.from_bytes(hashlib.sha256(prefix.encode()).digest()[:8], "big") % slots
        take = max(0, min(len(members), cap - len(plan[home])))
        plan[home] += members[:take]
        rest = members[take:]
        while rest:  # spill in contiguous runs, so each slot still sees one stretch of the prefix
            slot = min(range(slots), key=lambda s: (len(plan[s]), s))
            room = max(1, cap - len(plan[slot]))
            plan[slot] += rest[:room]
            rest = rest[room:]
    for s, order in enumerate(plan):  # the run of the prefix still in the slot's cache goes first
        warm = last[s] if s < len(last) else None
        order.sort(key=lambda i: prefix_of(texts[i]) != warm)  # stable: runs and prefix order kept
    return plan
