"""Canonical prompt blocks and the KV streams that keep them resident (llama.cpp, per-sequence KV).

Determinism rests on one rule: a prompt's KV cache is only ever computed in *canonical blocks*,
each evaluated alone (one sequence, one `llama_decode`) on top of the canonical blocks before it.
The split points are a pure function of the request (`split_points`): every multiple of `BLOCK`
tokens, plus the end of the messages every request of the node shares (`Request.shared`). So a
block's floats are a pure function of the tokens up to its end, whichever call, group or stream
computed it, and a block found resident gives bit-for-bit the KV a fresh evaluation would.

The context is created with one KV *stream* per sequence (`kv_unified = False`): a stream's cells
hold its positions in order from cell 0, so attention sums over the same cells in the same order
whether the prefix was copied in (`llama_memory_seq_cp` copies whole streams) or computed there.
`StreamPool` remembers which chain of blocks each stream holds, finds the longest resident match
for a request, and picks prefix streams (least recently used) for prefixes a group shares.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from synthc.runtime.backends.copy_guard import CopyGuard

__all__ = ["BLOCK", "Block", "Prompt", "split_points", "make_prompt", "StreamPool", "shared_targets"]

# Tokens per canonical block. Smaller shares more (a prefix is reused up to its last full block);
# larger evaluates faster per call. 64 keeps llama.cpp's CPU prompt eval near its 512-token speed.
BLOCK = 64


@dataclass(frozen=True, slots=True)
class Block:
    key: bytes  # hash chain over every token up to `end`: equal keys = equal canonical KV
    start: int
    end: int


@dataclass(slots=True)
class Prompt:
    tokens: list[int]
    blocks: list[Block]  # canonical blocks, in order; the tail after the last one is per request
    heal: bytes = b""  # trailing spaces left out of `tokens`: the first generated token starts with them
    guard: CopyGuard | None = None  # spans the row must not copy (its demos: copy_guard.py)

    @property
    def tail_start(self) -> int:
        return self.blocks[-1].end if self.blocks else 0


def split_points(n_tokens: int, shared_end: int) -> list[int]:
    """Block ends of an `n_tokens` prompt: multiples of BLOCK and the shared-prefix end, all
    before the last token (which is always evaluated with the tail, for the first logits)."""
    points = set(range(BLOCK, n_tokens, BLOCK))
    if 0 < shared_end < n_tokens:
        points.add(shared_end)
    return sorted(p for p in points if p <= n_tokens - 1)


def make_prompt(tokens: list[int], shared_end: int, heal: bytes = b"", guard: CopyGuard | None = None) -> Prompt:
    blocks, start, key = [], 0, b""
    for end in split_points(len(tokens), shared_end):
        h = hashlib.blake2b(key, digest_size=16)
        h.update(end.to_bytes(4, "little"))
        h.update(b"".join(t.to_bytes(4, "little") for t in tokens[start:end]))
        key = h.digest()
        blocks.append(Block(key, start, end))
        start = end
    return Prompt(tokens, blocks, heal, guard)


@dataclass(slots=True)
class StreamPool:
    """Which canonical blocks each KV stream holds. Streams [0, width) are working streams (one
    per sequence of a group, so a decode step's sequence ids are consecutive, as llama.cpp's
    per-stream batch split requires); streams [width, width + prefixes) hold shared prefixes."""

    width: int
    prefixes: int
    chains: list[list[Block]] = field(default_factory=list)
    used: list[int] = field(default_factory=list)
    tick: int = 0

    def __post_init__(self) -> None:
        n = self.width + self.prefixes
        self.chains = [[] for _ in range(n)]
        self.used = [0] * n

    def match(self, stream: int, blocks: Sequence[Block]) -> int:
        """How many leading blocks of `blocks` the stream holds."""
        n = 0
        for have, want in zip(self.chains[stream], blocks):
            if have.key != want.key:
                break
            n += 1
        return n

    def best(self, blocks: Sequence[Block], among: Sequence[int]) -> tuple[int, int]:
        """(stream, blocks matched) of the longest resident match among `among` (first wins ties)."""
        best, depth = -1, 0
        for s in among:
            m = self.match(s, blocks)
            if m > depth:
                best, depth = s, m
        return best, depth

    def touch(self, stream: int) -> None:
        self.tick += 1
        self.used[stream] = self.tick

    def prefix_streams(self) -> range:
        return range(self.width, self.width + self.prefixes)

    def lru_prefix(self, keep: set[int]) -> int | None:
        free = [s for s in self.prefix_streams() if s not in keep]
        return min(free, key=lambda s: self.used[s]) if free else None


def shared_targets(prompts: Sequence[Prompt]) -> list[list[Block]]:
    """The deepest block chains at least two prompts of the group share, none a prefix of another."""
    count: dict[bytes, int] = {}
    for p in prompts:
        for b in p.blocks:
            count[b.key] = count.get(b.key, 0) + 1
    deepest: dict[bytes, list[Block]] = {}
    for p in prompts:
        depth = 0
        while depth < len(p.blocks) and count[p.blocks[depth].key] >= 2:
            depth += 1
        if depth:
            deepest[p.blocks[depth - 1].key] = p.blocks[:depth]
    inner = {b.key for chain in deepest.values() for b in chain[:-1]}
    return [chain for key, chain in deepest.items() if key not in inner]
