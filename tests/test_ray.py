"""The Ray executor on a real local Ray cluster (ray.init on this machine, 2 worker actors): the
same completions as this process's backend, a killed worker's groups sent elsewhere, worker
failures rebuilt as the driver's own exceptions."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import wait

import pytest
import ray  # the `ray` extra; the test extra installs it

from synthc.compiler import compile_text
from synthc.runtime.backends.base import Constraint, ContextOverflow, Request
from synthc.runtime.backends.fake import FakeBackend


RECIPE = """\
model writer {
  gguf    = builtin("smollm2-135m")
  context    = 96
  max_tokens = 32
}
labels l {
  a = "A"
}
task t {
  labels    = l
  model     = writer
  per_label = 1
  prompt    = "Write {{ label }}"
}
"""


@pytest.fixture(scope="module")
def cluster() -> object:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"SYNTHC_FAKE_DELAY": "0.03", "SYNTHC_FAKE_CAPACITY": "4"}})
    yield ray
    ray.shutdown()


def _program():  # type: ignore[no-untyped-def]
    result = compile_text(RECIPE, "/tmp/ray-test.synth")
    assert result.program is not None, result.diagnostics
    return result.program


def _requests(n: int) -> list[Request]:
    kinds = [Constraint(), Constraint("select", ("x", "y", "z")), Constraint("regex", pattern="[0-9]")]
    return [Request(messages=(("user", f"Write review number {i} about apples"),), mode="chat",
                    constraint=kinds[i % 3], max_tokens=12, temperature=0.8, top_p=0.95, stop=(), seed=1000 + i)
            for i in range(n)]


def _groups(requests: list[Request], width: int) -> list[list[Request]]:
    return [requests[i: i + width] for i in range(0, len(requests), width)]


def test_groups_on_ray_workers_equal_the_local_backend(cluster: object) -> None:
    from synthc.runtime.engine.dispatch_ray import RayDispatcher

    d = RayDispatcher(_program(), "/tmp", kind="fake", workers=2)
    try:
        width = d.capacity("writer")
        assert width == 4  # the workers' backend answered (its env came through the runtime_env)
        groups = _groups(_requests(24), width)
        futures = [d.submit("writer", g) for g in groups]
        remote = [c for f in futures for c in f.result(timeout=120)]
        assert len(set(d.pids("writer"))) == 2  # two worker processes, neither of them this one
        assert os.getpid() not in d.pids("writer")
    finally:
        d.close()
    local = [c for g in groups for c in FakeBackend(96).generate_batch(g)]
    assert remote == local


def test_a_killed_workers_groups_are_retried_on_another(cluster: object) -> None:
    from synthc.runtime.engine.dispatch_ray import RayDispatcher

    d = RayDispatcher(_program(), "/tmp", kind="fake", workers=2)
    try:
        groups = _groups(_requests(48), 4)
        pids = d.pids("writer")
        futures = [d.submit("writer", g) for g in groups]
        time.sleep(0.5)  # both workers are busy with groups now
        os.kill(pids[0], signal.SIGKILL)
        done, pending = wait(futures, timeout=180)
        assert not pending
        remote = [c for f in futures for c in f.result()]
        assert d.resent >= 1
    finally:
        d.close()
    assert remote == [c for g in groups for c in FakeBackend(96).generate_batch(g)]


def test_worker_failures_come_back_as_the_drivers_exceptions(cluster: object) -> None:
    from synthc.runtime.engine.dispatch_ray import RayDispatcher

    d = RayDispatcher(_program(), "/tmp", kind="fake", workers=1)
    try:
        long = Request(messages=(("user", "word " * 200),), mode="chat", constraint=Constraint(), max_tokens=8,
                       temperature=0.8, top_p=0.95, stop=(), seed=1)
        with pytest.raises(ContextOverflow) as info:
            d.submit("writer", [long]).result(timeout=120)
        assert info.value.context == 96
    finally:
        d.close()


# max_tokens 48: the fake writes at most 47 words, so no row stops at the cap (token_cap) and one
# round of 12 requests meets the quota.
BUILD = """\
model writer {
  gguf       = builtin("smollm2-135m")
  max_tokens = 48
}
labels mood {
  happy = "a happy"
  sad   = "a sad"
}
task notes {
  labels    = mood
  model     = writer
  per_label = 6
  prompt    = "Write {{ label }} note about {{ topic }}."
  vary {
    topic = ["rain", "trains", "tea"]
  }
  output {
    text = string(words = 3..40)
  }
}
export out {
  task = notes
  path = "out/notes.jsonl"
}
"""


def _build_in(directory: str, dispatcher: object = None) -> bytes:
    from synthc.compiler import compile_file
    from synthc.runtime import execute

    os.makedirs(directory)
    spec = os.path.join(directory, "notes.synth")
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write(BUILD)
    result = compile_file(spec)
    assert result.plan is not None, result.diagnostics
    summary = execute(result.plan, result.sources, quiet=True, backend="fake", dispatcher=dispatcher)
    assert "0 from cache" in summary and " 0 generated" not in summary  # every row generated here, fresh
    with open(os.path.join(directory, "out", "notes.jsonl"), "rb") as fh:
        return fh.read()


def test_a_build_on_ray_writes_the_same_bytes_as_a_local_build(cluster: object, tmp_path: str) -> None:
    from synthc.runtime.engine.dispatch_ray import RayDispatcher

    local = _build_in(os.path.join(str(tmp_path), "local"))
    root = os.path.join(str(tmp_path), "ray")
    program = compile_text(BUILD, os.path.join(root, "notes.synth")).program
    remote = _build_in(root, RayDispatcher(program, root, kind="fake", workers=2))
    assert remote == local and len(local.splitlines()) == 12
