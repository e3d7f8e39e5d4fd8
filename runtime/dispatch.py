"""The seam between the scheduler and whatever runs the models.

The scheduler forms groups of requests (runtime/engine.py) and hands each to a Dispatcher:

    submit(model, requests) -> Future[list[Completion]]   # one Completion per request, in order
    capacity(model) -> int                                 # the most requests one group may hold
    close()                                                # wait for nothing more; release workers

`model` is the recipe's model name. A group is the unit of work and of failure: the future either
yields every completion of the group or raises (ContextOverflow, or any engine error) for all of
it. A dispatcher may run groups in any order and in parallel; it must not split, merge or reorder
the requests inside a group, because a batched backend's floating point depends on which
sequences share a batch and the scheduler made that composition a pure function of the plan.

LocalDispatcher runs every model of the build in this process: one worker thread per loaded
backend (llama.cpp releases the GIL while it decodes, so parse, filter and export steps run on
the scheduler's thread meanwhile). Another executor — a Ray cluster, an HTTP endpoint — plugs in
by implementing these three methods, loading models with `runtime.models.load_backend`.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol, Sequence

from synthc.runtime.backends.base import Completion, Request
from synthc.runtime.models import ModelPool

__all__ = ["Dispatcher", "LocalDispatcher"]


class Dispatcher(Protocol):
    def submit(self, model: str, requests: Sequence[Request]) -> Future[list[Completion]]:
        ...

    def capacity(self, model: str) -> int:
        ...

    def close(self) -> None:
        ...


class LocalDispatcher:
    """Backends of this process (loaded through the build's ModelPool), one worker thread each."""

    def __init__(self, models: ModelPool) -> None:
        self.models = models
        self._workers: dict[str, ThreadPoolExecutor] = {}

    def capacity(self, model: str) -> int:
        return max(1, int(self.models.get(model).capacity()))

    def submit(self, model: str, requests: Sequence[Request]) -> Future[list[Completion]]:
        backend = self.models.get(model)  # loaded here, on the caller's thread: load errors are E501 there
        if model not in self._workers:
            self._workers[model] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"synthc-{model}")
        batch = list(requests)
        return self._workers[model].submit(backend.generate_batch, batch)

    def close(self) -> None:
        for worker in self._workers.values():
            worker.shutdown(wait=True, cancel_futures=True)
        self._workers.clear()
