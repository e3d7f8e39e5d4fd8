"""`synthc build --executor ray`: generation groups run on Ray actors, everything else on the driver.

Each actor holds one backend of one model (llama.cpp on the GGUF, an endpoint client, or the
fake), loaded on the worker through the same loader a local build uses. The driver keeps the
scheduler, the per-row cache, retrieval, parsing, filters and exports: it sends a group (the
requests the plan put together) to the least busy actor of its model and gets the completions
back, in order, into the same cache — so a group's composition, its seeds and the dataset bytes are
what a local build makes. A group whose actor dies (the process killed, its node lost) is sent
again to another actor of the model, and Ray restarts the dead one; a group is committed whole or
not at all, so nothing is lost or counted twice.

Ray is the optional extra `ray`; this module imports it only when a dispatcher is made.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Sequence

from synthc.compiler import ir
from synthc.runtime.backends.base import Completion, ContextOverflow, Request
from synthc.runtime.errors import RunFailed, fail

__all__ = ["RayDispatcher"]


@dataclass(frozen=True, slots=True)
class _Failure:
    """An exception from a worker, in parts that survive pickling (several of ours take more
    than a message, so pickling the exception itself would not rebuild it)."""

    kind: str  # overflow | failed | unavailable | error
    message: str
    args: tuple[Any, ...] = ()

    def rebuild(self) -> BaseException:
        if self.kind == "overflow":
            return ContextOverflow(*self.args)
        if self.kind == "failed":
            return RunFailed(list(self.args))
        if self.kind == "unavailable":
            from synthc.runtime.backends.endpoint import EndpointUnavailable

            return EndpointUnavailable(self.message, list(self.args))
        if self.kind == "refused":
            from synthc.runtime.backends.endpoint import EndpointRefused

            return EndpointRefused(self.message)
        return RuntimeError(self.message)


def _failure(exc: BaseException) -> _Failure:
    from synthc.runtime.backends.endpoint import EndpointRefused, EndpointUnavailable

    if isinstance(exc, ContextOverflow):
        return _Failure("overflow", str(exc), (exc.prompt, exc.max_tokens, exc.context))
    if isinstance(exc, RunFailed):
        return _Failure("failed", str(exc), tuple(exc.diagnostics))
    if isinstance(exc, EndpointUnavailable):
        return _Failure("unavailable", str(exc), tuple(exc.partial))
    if isinstance(exc, EndpointRefused):
        return _Failure("refused", str(exc))
    return _Failure("error", f"{type(exc).__name__}: {exc}")


class _Worker:
    """The actor body (wrapped by ray.remote in RayDispatcher): one backend, loaded at start."""

    def __init__(self, model: ir.Model, root: str, kind: str) -> None:
        self.backend = None
        self.error: _Failure | None = None
        try:
            from synthc.runtime.models.load import load_backend

            self.backend = load_backend(model, root, kind)
        except BaseException as exc:  # noqa: BLE001 - reported to the driver on first use
            self.error = _failure(exc)

    def capacity(self) -> int | _Failure:
        if self.error is not None:
            return self.error
        return int(self.backend.capacity())  # type: ignore[union-attr]

    def generate(self, requests: list[Request]) -> list[Completion] | _Failure:
        if self.error is not None:
            return self.error
        try:
            return self.backend.generate_batch(requests)  # type: ignore[union-attr,no-any-return]
        except BaseException as exc:  # noqa: BLE001 - sent back as data, rebuilt on the driver
            return _failure(exc)

    def pid(self) -> int:
        return os.getpid()


class RayDispatcher:
    """The Dispatcher protocol (runtime/engine/dispatch.py) over Ray actors: `workers` actors per model."""

    def __init__(self, program: ir.Program, root: str, *, kind: str = "llama", address: str | None = None,
                 workers: int = 2, retries: int = 3, init: dict[str, Any] | None = None) -> None:
        if workers < 1:  # the CLI refuses it (E701); an API caller gets told before Ray starts
            raise ValueError(f"workers must be at least 1, got {workers}")
        try:
            import ray
        except ImportError:
            raise fail("E510", "`--executor ray` needs Ray, which is not installed", _no_span(),
                       help="pip install 'synthc[ray]'") from None
        self.ray = ray
        if not ray.is_initialized():
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         configure_logging=False, **(init or {}))
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise fail("E511", f"cannot join the Ray cluster at {address or 'a new local cluster'}: {exc}",
                           _no_span(), help="start it with `ray start --head` and pass `--address HOST:6379`") from None
        self.program, self.root, self.kind, self.workers, self.retries = program, root, kind, workers, retries
        # Each actor takes one CPU of the cluster: a llama.cpp backend decodes on its node's cores.
        self._actor_class = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=0)(_Worker)
        self._actors: dict[str, list[Any]] = {}
        self._busy: dict[int, int] = {}  # id(actor) -> groups in flight
        self._lock = threading.Lock()
        self.resent = 0  # groups sent again after their actor died

    def _pool(self, model: str) -> list[Any]:
        with self._lock:
            if model not in self._actors:
                m = self.program.model(model)
                self._actors[model] = [self._actor_class.remote(m, self.root, self.kind) for _ in range(self.workers)]
                for a in self._actors[model]:
                    self._busy[id(a)] = 0
            return self._actors[model]

    def capacity(self, model: str) -> int:
        answer = self.ray.get(self._pool(model)[0].capacity.remote())
        if isinstance(answer, _Failure):
            raise answer.rebuild()
        return max(1, int(answer))

    def submit(self, model: str, requests: Sequence[Request]) -> Future[list[Completion]]:
        out: Future[list[Completion]] = Future()
        self._send(model, list(requests), out, self.retries, avoid=None)
        return out

    def _send(self, model: str, batch: list[Request], out: Future[list[Completion]], left: int, avoid: Any) -> None:
        pool = self._pool(model)
        with self._lock:
            choices = [a for a in pool if a is not avoid] or pool
            actor = min(choices, key=lambda a: self._busy[id(a)])
            self._busy[id(actor)] += 1
        ref = actor.generate.remote(batch)

        def done(fut: Future[Any]) -> None:
            with self._lock:
                self._busy[id(actor)] -= 1
            try:
                answer = fut.result()
            except self.ray.exceptions.RayActorError as exc:  # the worker died: send the group elsewhere
                if left > 0:
                    with self._lock:
                        self.resent += 1
                    self._send(model, batch, out, left - 1, avoid=actor)
                else:
                    out.set_exception(RuntimeError(f"the Ray workers of model `{model}` kept dying: {exc}"))
                return
            except BaseException as exc:  # noqa: BLE001 - handed to the scheduler as the group's failure
                out.set_exception(exc)
                return
            if isinstance(answer, _Failure):
                out.set_exception(answer.rebuild())
            else:
                out.set_result(answer)

        ref.future().add_done_callback(done)

    def pids(self, model: str) -> list[int]:
        """Worker process ids (tests kill one to prove its groups are retried elsewhere)."""
        return list(self.ray.get([a.pid.remote() for a in self._pool(model)]))

    def close(self) -> None:
        for pool in self._actors.values():
            for a in pool:
                self.ray.kill(a)
        self._actors.clear()


def _no_span() -> Any:
    from synthc.compiler.source import NO_SPAN

    return NO_SPAN
