"""Continuous batching: one decode loop per loaded model, its slots refilled row by row.

Groups arrive whenever the scheduler finds them ready (`submit`, from any thread); their rows
join one first-in first-out queue. The loop's thread owns the llama.cpp context: before each
decode step it fills every free slot (working stream) with the next queued row, whatever group,
variant or task it belongs to (`BatchDecoder.admit`: resident blocks copied in, the rest of the
prompt evaluated alone); then one `llama_decode` advances every running row by a token. A row
that ends frees its slot for the next step, so a long row never holds back the slots of rows
that ended early, as a static group's would (llama.cpp's server runs its slots the same way).

A group stays the unit of the cache and of failure: its future is resolved when its last row
ends, with every completion in request order, or fails whole when one of its rows raised (its
other rows leave their slots at once).

Why the output is still a pure function of the request: decoding through this backend is
batch-invariant on CPU (tests/test_batch.py checks it bit for bit on the embedded SmolLM2: a row
decoded alone and beside 1, 3 or 7 other rows, joining at other steps, gets the same logits). A
matrix product's every output is one dot product whose order does not depend on how many rows
share the step, each sequence attends over its own stream's cells in order, and masked cells add
exact zeros. So which rows share a step, and when a row is admitted, change no float, and the
admission order can follow wall-clock arrival without costing determinism.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable, Sequence

from synthc.runtime.backends.base import Completion, Request
from synthc.runtime.backends.llama_batch import BatchDecoder
from synthc.runtime.backends.llama_kv import Prompt
from synthc.runtime.backends.llama_rows import DecodeSlot

__all__ = ["DecodeLoop"]


@dataclass(slots=True, eq=False)
class _Group:
    requests: Sequence[Request]
    prompts: Sequence[Prompt]
    future: Future[list[Completion]]
    completions: list[Completion | None]
    left: int
    need: int  # KV cells its longest row needs: prompt + max_tokens
    shared: list[int] | None = None  # tokens each prompt evaluated into prefix streams (first admission)
    failed: bool = False
    rows: list[DecodeSlot] = field(default_factory=list)


class DecodeLoop:
    """The slots of one model's context and the thread that decodes them (started on first use)."""

    def __init__(self, decoder: BatchDecoder, width: int, stream_tokens: int,
                 grow: Callable[[int], tuple[BatchDecoder, int]]) -> None:
        """`stream_tokens`: cells per KV stream; `grow(need)` reopens the context with longer
        streams (called on this loop's thread, with no row running) and returns the new decoder."""
        self.decoder, self.width = decoder, width
        self.stream_tokens, self._grow = stream_tokens, grow
        self._queue: deque[tuple[_Group, int]] = deque()
        self._cv = threading.Condition()  # guards the queue, the thread and the cancel handshake
        self._thread: threading.Thread | None = None
        self._closed = False
        self._cancel = False
        self._busy = False  # rows running on the loop's thread

    def submit(self, requests: Sequence[Request], prompts: Sequence[Prompt]) -> Future[list[Completion]]:
        """Queue a group's rows; the future yields their completions in order (or the group's error)."""
        future: Future[list[Completion]] = Future()
        future.set_running_or_notify_cancel()
        if not requests:
            future.set_result([])
            return future
        need = max(len(p.tokens) + r.max_tokens for r, p in zip(requests, prompts))
        group = _Group(requests, prompts, future, [None] * len(requests), len(requests), need)
        with self._cv:
            if self._closed:
                raise RuntimeError("the decode loop is closed")
            self._queue.extend((group, i) for i in range(len(requests)))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="synthc-decode", daemon=True)
                self._thread.start()
        return future

    def cancel(self) -> None:
        """Drop every queued and running group (each future fails with CancelledError) and wait
        until no row runs: a build that stops early leaves no decoding behind it."""
        from concurrent.futures import CancelledError

        with self._cv:
            for group, _ in self._queue:
                group.failed = True
                if not group.future.done():
                    group.future.set_exception(CancelledError())
            self._queue.clear()
            self._cancel = self._busy
            while self._cancel:
                self._cv.wait()

    def close(self) -> None:
        """Finish what is queued; later submits are refused."""
        with self._cv:
            self._closed = True
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    # -- the loop's thread ---------------------------------------------------------------------
    def _next(self, idle: bool) -> tuple[_Group, int] | None:
        """The next queued row of a live group. None: nothing to admit now; when `idle` (no row
        running) this thread's turn then ends, and the next `submit` starts another (an idle loop
        holds no thread, so a backend nobody uses can be freed)."""
        with self._cv:
            while self._queue and self._queue[0][0].failed:
                self._queue.popleft()
            if self._queue:
                self._busy = True
                return self._queue.popleft()
            if idle:
                self._busy = self._cancel = False  # nothing runs, nothing to cancel
                self._thread = None
                self._cv.notify_all()  # cancel() may wait for an idle loop
            return None

    def _requeue(self, item: tuple[_Group, int]) -> None:
        with self._cv:
            self._queue.appendleft(item)

    def _run(self) -> None:
        running: list[DecodeSlot] = []
        owner: dict[int, tuple[_Group, int]] = {}  # id(row) -> (its group, its index there)
        while True:
            if self._cancel:
                from concurrent.futures import CancelledError

                for group in {owner[id(r)][0] for r in running}:
                    running = self._fail(group, CancelledError(), running, owner)
                with self._cv:
                    self._cancel = self._busy = False
                    self._cv.notify_all()
            while len(running) < self.width:  # refill every free slot before the step
                nxt = self._next(idle=not running)
                if nxt is None:
                    break
                group, i = nxt
                if group.need > self.stream_tokens:  # longer streams: reopen the context, empty
                    if running:
                        self._requeue(nxt)  # admit nothing more until the running rows end
                        break
                    try:
                        self.decoder, self.stream_tokens = self._grow(group.need)
                    except BaseException as exc:  # noqa: BLE001
                        running = self._fail(group, exc, running, owner)
                        continue
                try:
                    if group.shared is None:
                        group.shared = self.decoder.share(group.prompts)
                    row = self.decoder.admit(group.requests[i], group.prompts[i], len(running), group.shared[i], i)
                except BaseException as exc:  # noqa: BLE001 - the group fails whole, the loop goes on
                    running = self._fail(group, exc, running, owner)
                    continue
                owner[id(row)] = (group, i)
                group.rows.append(row)
                if row.finish:
                    self._end(row, owner)
                else:
                    running.append(row)
            if not running:  # _next found nothing while idle: this thread's turn is over
                return
            try:
                self.decoder.step(running)
            except BaseException as exc:  # noqa: BLE001 - a failed step: every running group fails
                for group in {owner[id(r)][0] for r in running}:
                    running = self._fail(group, exc, running, owner)
                continue
            for row in [r for r in running if r.finish]:
                self._end(row, owner)
            running = self.decoder.compact([r for r in running if not r.finish])

    def _end(self, row: DecodeSlot, owner: dict[int, tuple[_Group, int]]) -> None:
        group, i = owner.pop(id(row))
        self.decoder.retire(row)
        group.completions[i] = row.completion()
        group.left -= 1
        if group.left == 0:
            group.future.set_result(list(group.completions))  # type: ignore[arg-type]

    def _fail(self, group: _Group, exc: BaseException, running: list[DecodeSlot],
              owner: dict[int, tuple[_Group, int]]) -> list[DecodeSlot]:
        """Fail the group whole: its running rows leave their slots; its queued rows are skipped."""
        group.failed = True
        for row in group.rows:
            if id(row) in owner:
                owner.pop(id(row))
                self.decoder.retire(row)
        if not group.future.done():
            group.future.set_exception(exc)
        return self.decoder.compact([r for r in running if r.sampler is not None])
