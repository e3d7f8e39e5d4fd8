"""The slots of one llama.cpp context (low-level llama-cpp-python): what the decode loop
(llama_loop) does to them, one operation at a time.

- `share(prompts)`: every block chain two prompts of a group share is made resident in a prefix
  stream (copied from the longest resident match, the missing blocks evaluated there);
- `admit(request, prompt, stream)`: a row takes a free working stream: the longest resident (or
  spilled) match is copied in, its remaining canonical blocks are evaluated one decode each, then
  its tail, alone; the first token is sampled from the tail's last logits;
- `step(running)`: one `llama_batch` holding the next token of every running row (sequence ids
  consecutive, see `compact`), each row sampled by its own seeded sampler, constrained rows under
  their llguidance mask; a row whose token completes a copy of one of its demos is rewound
  (its stream cut back) to where the copy began (copy_guard.py); past `wrap_up` output tokens, a
  free-text row's sentence-ending tokens gain WRAP_UP_STEP of logit per token (`_wrap_up`); before
  `min_tokens` output tokens, a free-text row may not end (end-of-text and end-of-turn banned);
- `retire(row)`: a finished row's stream is cut back to its canonical blocks, which stay resident
  for later rows; `compact` moves the last running row into the hole (a stream copy).

What a row's output is a pure function of: its request and the backend's model file. Not of
what was resident: blocks are canonical (see llama_kv). Not of the rows beside it, nor of when it
was admitted: decoding is batch-invariant (llama_loop). Not of the thread count: llama.cpp splits
a matrix product across threads by rows, never inside a dot product. Not across machines:
another CPU's kernels (AVX2 / AVX-512) round differently.
"""

from __future__ import annotations

import ctypes
import re
from collections import OrderedDict
from typing import Any, Sequence

from synthc.runtime.backends.base import Request
from synthc.runtime.backends.copy_guard import REWINDS
from synthc.runtime.backends.llama_kv import Block, Prompt, StreamPool, shared_targets
from synthc.runtime.backends.llama_rows import Grammars, DecodeSlot, sampler_chain

__all__ = ["BatchDecoder"]

# Host memory for the prompt blocks of rows whose stream another row takes over mid-call (a
# conversation's earlier turns, say): saved with llama_state_seq_get_data, restored into an empty
# stream (cells 0..n-1 again, so the same floats), least recently used dropped first.
SPILL_BUDGET = 256 << 20

# Logit (nats) a sentence end gains per output token past `model.wrap_up`: the push grows, like
# Hugging Face's exponential_decay_length_penalty for end-of-text, so a row ends its sentence where
# the model finds an end plausible (a clause boundary) rather than being cut at the next token; 20
# tokens past, +10 nats outweighs any ordinary continuation.
WRAP_UP_STEP = 0.5
SENTENCE_END = re.compile(rb"[.!?]+[\"')\]]*")  # a token that is only this ends a sentence


class BatchDecoder:
    def __init__(self, L: Any, model: Any, ctx: Any, vocab: Any, width: int, prefixes: int, n_batch: int) -> None:
        import numpy as np

        self.L, self.model, self.ctx, self.vocab = L, model, ctx, vocab
        self.np = np
        self.mem = L.llama_get_memory(ctx)
        self.n_vocab = L.llama_vocab_n_tokens(vocab)
        self.n_batch = n_batch
        self.batch = L.llama_batch_init(max(n_batch, width), 0, 1)
        self.pool = StreamPool(width, prefixes)
        self.grammars = Grammars(vocab)
        self._pieces: dict[int, bytes] = {}
        self._starting: dict[bytes, Any] = {}  # text -> tokens whose piece starts with it (healing)
        self._sentence_ends: Any = None  # sentence_ends(), computed on first use
        self._ends_text: Any = None  # ends_text(), computed on first use
        self._spilled: OrderedDict[bytes, tuple[list[Block], Any]] = OrderedDict()
        self._spilled_bytes = 0
        self._buf = ctypes.create_string_buffer(256)
        # Streams named by a stream copy llama.cpp has queued but not yet made: `seq_cp` between
        # streams only moves the cells' bookkeeping; the buffers are copied at the start of the next
        # llama_decode. Reading such a stream's state (a spill) before then would save stale floats,
        # and writing it (a restore) would be overwritten, or copied elsewhere in place of the row
        # that moved: a spill skips it, a restore first makes the copies happen (`_flush`).
        self._queued: set[int] = set()
        self.steps = 0  # decode steps (llama_decode calls of step()): what refill saves

    def close(self) -> None:
        self.L.llama_batch_free(self.batch)

    # -- low-level helpers --------------------------------------------------------------------
    def piece(self, token: int) -> bytes:
        p = self._pieces.get(token)
        if p is None:
            n = self.L.llama_token_to_piece(self.vocab, token, self._buf, len(self._buf), 0, False)
            p = bytes(self._buf[:n]) if n > 0 else b""
            self._pieces[token] = p
        return p

    def _decode(self, stream: int, tokens: Sequence[int], start: int) -> None:
        """Evaluate `tokens` at positions start.. in `stream`, alone; logits for the last only."""
        b = self.batch
        for i in range(0, len(tokens), self.n_batch):
            chunk = tokens[i:i + self.n_batch]
            b.n_tokens = len(chunk)
            for j, t in enumerate(chunk):
                b.token[j] = t
                b.pos[j] = start + i + j
                b.n_seq_id[j] = 1
                b.seq_id[j][0] = stream
                b.logits[j] = i + j == len(tokens) - 1
            self._llama_decode()

    def _llama_decode(self) -> None:
        rc = self.L.llama_decode(self.ctx, self.batch)
        self._queued.clear()  # llama.cpp made the queued stream copies before computing the batch
        if rc != 0:
            raise RuntimeError("llama_decode failed (KV cache full?)")

    def _seq_cp(self, src: int, dst: int) -> None:
        """Whole-stream copy, queued by llama.cpp until the next decode (see `_queued`)."""
        self.L.llama_memory_seq_cp(self.mem, src, dst, -1, -1)
        self._queued.update((src, dst))

    def _flush(self, stream: int) -> None:
        """Make llama.cpp perform its queued stream copies now, by evaluating one token into the
        free `stream` (emptied again after). A restore into a stream that a queued copy still reads
        would otherwise be copied elsewhere in place of the row that moved (`compact`)."""
        self.L.llama_memory_seq_rm(self.mem, stream, -1, -1)
        self._decode(stream, [0], 0)
        self.L.llama_memory_seq_rm(self.mem, stream, -1, -1)
        self.pool.chains[stream] = []

    def _copy(self, src: int, dst: int, keep: int) -> None:
        """Stream dst := the first `keep` blocks of stream src (a whole-stream copy, then a cut)."""
        L, pool = self.L, self.pool
        if src != dst:
            L.llama_memory_seq_rm(self.mem, dst, -1, -1)
            self._seq_cp(src, dst)
        chain = pool.chains[src][:keep]
        L.llama_memory_seq_rm(self.mem, dst, chain[-1].end if chain else 0, -1)
        pool.chains[dst] = list(chain)

    def _extend(self, stream: int, prompt: Prompt, have: int, upto: int) -> int:
        """Evaluate blocks [have, upto) of `prompt` into `stream`; returns tokens evaluated."""
        n = 0
        for blk in prompt.blocks[have:upto]:
            self._decode(stream, prompt.tokens[blk.start:blk.end], blk.start)
            self.pool.chains[stream].append(blk)
            n += blk.end - blk.start
        return n

    def _spill(self, stream: int) -> None:
        """Save the stream's canonical blocks to host memory before the stream is overwritten."""
        chain = self.pool.chains[stream]
        if not chain or chain[-1].key in self._spilled or stream in self._queued:
            return  # a queued copy's stream: its buffers may not hold its cells yet
        L = self.L
        L.llama_memory_seq_rm(self.mem, stream, chain[-1].end, -1)
        size = L.llama_state_seq_get_size(self.ctx, stream)
        if size > SPILL_BUDGET:
            return
        buf = (ctypes.c_uint8 * size)()
        if L.llama_state_seq_get_data(self.ctx, buf, size, stream) != size:
            return
        self._spilled[chain[-1].key] = (list(chain), buf)
        self._spilled_bytes += size
        while self._spilled_bytes > SPILL_BUDGET:
            _, (_, old) = self._spilled.popitem(last=False)
            self._spilled_bytes -= len(old)

    def _best_spill(self, blocks: Sequence[Block]) -> tuple[bytes | None, int]:
        best, depth = None, 0
        for key, (chain, _) in self._spilled.items():
            m = 0
            for have, want in zip(chain, blocks):
                if have.key != want.key:
                    break
                m += 1
            if m > depth:
                best, depth = key, m
        return best, depth

    def _restore(self, key: bytes, stream: int, keep: int) -> bool:
        chain, buf = self._spilled[key]
        self._spilled.move_to_end(key)
        if stream in self._queued:
            self._flush(stream)
        if self.L.llama_state_seq_set_data(self.ctx, buf, len(buf), stream) == 0:
            self.L.llama_memory_seq_rm(self.mem, stream, -1, -1)
            self.pool.chains[stream] = []
            return False
        self.pool.chains[stream] = list(chain)
        self._copy(stream, stream, keep)
        return True

    # -- the slots: shared prefixes, admission, one decode step, retirement ---------------------
    def share(self, prompts: Sequence[Prompt]) -> list[int]:
        """Make every block chain two of `prompts` share resident in a prefix stream (each evaluated
        once, by the first prompt using it). Returns the tokens evaluated, per prompt."""
        pool, evaluated = self.pool, [0] * len(prompts)
        keep: set[int] = set()
        for chain in shared_targets(prompts):
            src, depth = pool.best(chain, range(len(pool.chains)))
            if depth == len(chain):
                keep.add(src)
                pool.touch(src)
                continue
            dst = pool.lru_prefix(keep)
            if dst is None:
                break
            self._copy(src if src >= 0 else dst, dst, depth if src >= 0 else 0)
            owner = next(i for i, p in enumerate(prompts) if p.blocks[:len(chain)] == chain)
            evaluated[owner] += self._extend(dst, Prompt(prompts[owner].tokens, chain), depth, len(chain))
            keep.add(dst)
            pool.touch(dst)
        return evaluated

    def admit(self, request: Request, prompt: Prompt, stream: int, evaluated: int = 0, index: int = 0) -> DecodeSlot:
        """Set a row up in the free working stream `stream`: copy in the longest resident (or
        spilled) match of its canonical blocks, evaluate the missing blocks and its tail alone,
        and sample its first token from the tail's logits."""
        pool = self.pool
        if pool.match(stream, prompt.blocks) < len(pool.chains[stream]):
            self._spill(stream)  # its blocks (an earlier turn, say) may serve a later row
        # Chosen after that spill, which may evict the oldest spilled chain to stay within budget.
        among = [stream] + [s for s in range(len(pool.chains)) if s != stream]
        src, depth = pool.best(prompt.blocks, among)
        key, spill_depth = self._best_spill(prompt.blocks)
        if spill_depth > depth and self._restore(key, stream, spill_depth):  # type: ignore[arg-type]
            depth = spill_depth
        else:
            self._copy(src if depth else stream, stream, depth)
            if depth:
                pool.touch(src)
        evaluated += self._extend(stream, prompt, depth, len(prompt.blocks))
        tail = prompt.tokens[prompt.tail_start:]
        self._decode(stream, tail, prompt.tail_start)
        matcher = self.grammars.matcher(request.constraint) if request.constraint.kind != "text" else None  # free text: no grammar
        row = DecodeSlot(index, request, stream, len(prompt.tokens), sampler_chain(self.L, request), matcher,
                  len(prompt.tokens), evaluated + len(tail), heal=prompt.heal, guard=prompt.guard,
                  prompt_last=prompt.tokens[-1])
        self._sample([row], self.L.llama_get_logits_ith(self.ctx, -1), first_index=-1)
        return row

    def step(self, running: Sequence[DecodeSlot]) -> None:
        """One `llama_decode` holding the next token of every running row (streams 0..k-1), each
        row then sampled by its own seeded sampler (constrained rows under their mask)."""
        b = self.batch
        b.n_tokens = len(running)
        for j, r in enumerate(running):
            b.token[j] = r.last
            b.pos[j] = r.pos
            b.n_seq_id[j] = 1
            b.seq_id[j][0] = r.stream
            b.logits[j] = 1
        self._llama_decode()
        self.steps += 1
        for r in running:
            r.pos += 1
        self._sample(list(running), self.L.llama_get_logits(self.ctx), first_index=0)

    def retire(self, row: DecodeSlot) -> None:
        """A finished row: its stream keeps only its canonical blocks (resident for later rows)."""
        chain = self.pool.chains[row.stream]
        self.L.llama_memory_seq_rm(self.mem, row.stream, chain[-1].end if chain else 0, -1)
        self.pool.touch(row.stream)
        self.L.llama_sampler_free(row.sampler)
        row.sampler = None

    def compact(self, running: list[DecodeSlot]) -> list[DecodeSlot]:
        """Keep running rows in streams 0..k-1: llama.cpp splits a step into one ubatch per run of
        consecutive sequence ids, so a gap would cost a whole extra forward pass per step."""
        running = sorted(running, key=lambda r: r.stream)
        for hole in range(len(running)):
            if running[hole].stream != hole:
                last = running[-1]
                self._spill(hole)  # the finished row's prompt blocks, before the move overwrites them
                self.L.llama_memory_seq_rm(self.mem, hole, -1, -1)
                self._seq_cp(last.stream, hole)
                self.L.llama_memory_seq_rm(self.mem, last.stream, -1, -1)
                self.pool.chains[hole] = self.pool.chains[last.stream]
                self.pool.chains[last.stream] = []
                last.stream = hole
                running = sorted(running, key=lambda r: r.stream)
        return running

    def _sample(self, rows: list[DecodeSlot], logits_ptr: Any, first_index: int) -> None:
        """Sample the next token of each row from its logits row (row j of the step's outputs)."""
        np, L = self.np, self.L
        logits = np.ctypeslib.as_array(logits_ptr, shape=(len(rows), self.n_vocab))
        # log-probabilities under the model itself (temperature 1, no mask): the fluency signal
        top = logits.max(axis=1)
        lse = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
        for j, r in enumerate(rows):
            boost = 0.0
            if r.matcher is not None:
                self._mask(r.matcher, logits[j])
            else:
                if r.heal and not r.produced:  # a healed prompt: its first token restores the spaces
                    allowed = self.starting_with(r.heal)
                    if allowed.any():  # (a vocabulary with no such token: sampled as it is)
                        logits[j][~allowed] = -np.inf
                if r.guard is not None:  # no repeat of its own spans, no token a rewind banned here
                    banned = r.banned(copies=r.rewinds >= REWINDS)
                    if banned:
                        logits[j][list(banned)] = -np.inf
                if r.produced < r.request.min_tokens:  # too short for its bound to end yet
                    logits[j][self.ends_text()] = -np.inf
                boost = self._wrap_up(r, logits[j])
            token = L.llama_sampler_sample(r.sampler, self.ctx, first_index if first_index < 0 else j)
            if r.guard is not None and r.rewinds < REWINDS:
                start = r.guard.copy_start(r.tokens, token)
                if start is not None:  # a demo's span, copied: back to where the copy began (copy_guard.py)
                    r.rewind(start)
                    L.llama_memory_seq_rm(self.mem, r.stream, r.pos, -1)
                    continue
            # a sampled token was allowed, so its logit is still the model's own (less a wrap-up boost)
            lp = float(logits[j, token] - lse[j]) - (boost if boost and self.sentence_ends()[token] else 0.0)
            r.accept(token, lp, self.piece(token), bool(L.llama_vocab_is_eog(self.vocab, token)))

    def _wrap_up(self, row: DecodeSlot, logits: Any) -> float:
        """Past `wrap_up` output tokens, raise the logits of the sentence-ending tokens by
        WRAP_UP_STEP per token; returns the boost (0.0 when none). A pure function of the row's
        own length, so decoding stays batch-invariant."""
        past = row.produced - row.request.wrap_up + 1
        if not row.request.wrap_up or past <= 0:
            return 0.0
        boost = WRAP_UP_STEP * past
        logits[self.sentence_ends()] += boost
        return boost

    def sentence_ends(self) -> Any:
        """Which tokens are only a sentence end (".", "!", "?", '."', ...): a boolean row, memoized."""
        if self._sentence_ends is None:
            self._sentence_ends = self.np.array([SENTENCE_END.fullmatch(self.piece(t).strip()) is not None
                                                 for t in range(self.n_vocab)], dtype=bool)
        return self._sentence_ends

    def ends_text(self) -> Any:
        """Which tokens end a generation (end-of-text, end-of-turn): a boolean row, memoized."""
        if self._ends_text is None:
            self._ends_text = self.np.array([bool(self.L.llama_vocab_is_eog(self.vocab, t)) for t in range(self.n_vocab)],
                                            dtype=bool)
        return self._ends_text

    def starting_with(self, text: bytes) -> Any:
        """Which tokens' pieces start with `text` (a boolean row over the vocabulary), memoized.
        The decode loop's thread only: `piece` shares one buffer."""
        found = self._starting.get(text)
        if found is None:
            found = self.np.array([self.piece(t).startswith(text) for t in range(self.n_vocab)], dtype=bool)
            self._starting[text] = found
        return found

    def _mask(self, matcher: Any, row: Any) -> None:
        """Disallowed tokens get -inf, in llama.cpp's own logits buffer (the sampler reads it)."""
        np = self.np
        mask = np.zeros((self.n_vocab + 31) // 32, dtype=np.int32)
        matcher.unsafe_compute_mask_ptr(mask.ctypes.data, mask.nbytes)
        allowed = np.unpackbits(mask.view(np.uint8), bitorder="little")[: self.n_vocab].astype(bool)
        row[~allowed] = -np.inf
