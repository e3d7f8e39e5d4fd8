"""The seam between the scheduler and whatever runs the models.

The scheduler forms groups of requests (runtime/engine/groups.py) and hands each to a Dispatcher:

    submit(model, requests) -> Future[list[Completion]]   # one Completion per request, in order
    capacity(model) -> int                                 # the most requests one group may hold
    close()                                                # wait for nothing more; release workers

`model` is the recipe's model name. A group is the unit of the cache and of failure: the future
either yields every completion of the group or raises (ContextOverflow, or any engine error) for
all of it. A dispatcher may run groups in any order and in parallel, and a backend may decode the
rows of many groups side by side (continuous batching): every backend answers a request with the
same completion whatever else it decodes meanwhile (the llama backend is batch-invariant on CPU,
runtime/backends/llama_loop.py; the fake and endpoint backends decode rows independently).

LocalDispatcher runs every model of the build in this process. A backend with a decode loop of
its own (`submit(requests) -> Future`, the llama backend) is handed every group at once, and its
loop refills a finished row's slot with the next queued row, whatever group it came from. Any
other backend gets one worker thread that calls `generate_batch` a group at a time. llama.cpp
releases the GIL while it decodes, so parse, filter and export steps run on the scheduler's
thread meanwhile. Another executor — a Ray cluster, an HTTP endpoint — plugs in
by implementing these three methods, loading models with `runtime.models.load_backend`.

CacheOnlyDispatcher is the previews' (`synthc plan --tokens`, `show`, `diff`; runtime/preview/run.py):
it generates nothing. A request whose completion is in the per-row cache gets it; any other gets
a stand-in (`backends.base.would_generate`: finish PREVIEW, text NOT_GENERATED) whose
`prompt_tokens` are the request's own, counted by the model's tokenizer when asked (a vocab-only
load), with every not-yet-generated earlier answer it carries counted as empty — a lower bound.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol, Sequence, runtime_checkable

from dataclasses import replace

from synthc.runtime.backends.base import NOT_GENERATED, PREVIEW, Completion, Request
from synthc.runtime.models.load import ModelPool
from synthc.runtime.store.cache import Cache
from synthc.runtime.store.keys import generation_key

__all__ = ["Dispatcher", "LocalDispatcher", "CacheOnlyDispatcher", "bare"]


class Dispatcher(Protocol):
    def submit(self, model: str, requests: Sequence[Request]) -> Future[list[Completion]]:
        ...

    def capacity(self, model: str) -> int:
        ...

    def close(self) -> None:
        ...


@runtime_checkable
class Continuous(Protocol):
    """A backend that runs its own decode loop: groups queue on it and their rows share its slots."""

    def submit(self, requests: Sequence[Request]) -> Future[list[Completion]]:
        ...

    def cancel(self) -> None:
        """Drop the queued and running groups; returns when the loop is idle."""
        ...


class LocalDispatcher:
    """Backends of this process (loaded through the build's ModelPool), one worker thread each."""

    def __init__(self, models: ModelPool) -> None:
        self.models = models
        self._workers: dict[str, ThreadPoolExecutor] = {}
        self._loops: dict[str, Continuous] = {}

    def capacity(self, model: str) -> int:
        return max(1, int(self.models.get(model).capacity()))

    def submit(self, model: str, requests: Sequence[Request]) -> Future[list[Completion]]:
        backend = self.models.get(model)  # loaded here, on the caller's thread: load errors are E501 there
        batch = list(requests)
        if isinstance(backend, Continuous):
            self._loops[model] = backend
            try:
                return backend.submit(batch)
            except Exception as exc:  # a prompt over the context, say: the group's failure, as a worker's would be
                failed: Future[list[Completion]] = Future()
                failed.set_exception(exc)
                return failed
        if model not in self._workers:
            self._workers[model] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"synthc-{model}")
        return self._workers[model].submit(backend.generate_batch, batch)

    def close(self) -> None:
        for backend in self._loops.values():  # a build that failed leaves no group decoding
            backend.cancel()
        self._loops.clear()
        for worker in self._workers.values():
            worker.shutdown(wait=True, cancel_futures=True)
        self._workers.clear()


class CacheOnlyDispatcher:
    """Answers every group at once from `cache` (None: no cache yet), never generating: the cached
    completions, and for the rest a would-generate stand-in (see the module doc). `count`: put each
    stand-in's prompt tokens on it (the model's tokenizer; else 0)."""

    def __init__(self, models: ModelPool, cache: Cache | None, count: bool = False) -> None:
        self.models, self.cache, self.count = models, cache, count

    def capacity(self, model: str) -> int:
        return max(1, int(self.models.get(model).capacity()))

    def submit(self, model: str, requests: Sequence[Request]) -> Future[list[Completion]]:
        from synthc.runtime.prompting.history import prompt_size

        backend = self.models.get(model)
        measure = prompt_size(backend) if self.count else None
        out: list[Completion] = []
        for req in requests:
            hit = None
            if self.cache is not None and NOT_GENERATED not in str(req.messages):
                hit = self.cache.get(generation_key(req, backend.fingerprint()))
            out.append(hit if hit is not None else
                       Completion(NOT_GENERATED, measure(bare(req)) if measure else 0, 0, 0, finish=PREVIEW))
        done: Future[list[Completion]] = Future()
        done.set_result(out)
        return done

    def close(self) -> None:
        pass


def bare(request: Request) -> Request:
    """`request` with every not-yet-generated answer it carries left empty (what counts as known)."""
    if NOT_GENERATED not in str(request.messages):
        return request
    return replace(request, messages=tuple((role, text.replace(NOT_GENERATED, "")) for role, text in request.messages))
