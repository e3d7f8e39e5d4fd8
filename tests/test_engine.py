"""The generation engine on the fake backend: fixed groups, cell-level dispatch across nodes,
whole-group commits under kill -9, the Dispatcher seam, example stops and echo handling."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import Future
from typing import Any, Sequence

import pytest

from conftest import DATA
from synthc.compiler import compile_file
from synthc.runtime import execute
from synthc.runtime.backends.base import Completion, Request
from synthc.runtime.store.cache import Cache
from synthc.runtime.engine.groups import group_rows
from synthc.runtime.models.load import ModelPool
from synthc.runtime.engine.progress import Events
from synthc.runtime.prompting.prompts import Echo, cut_echo
from synthc.runtime.steps import Context, run_until
from test_runtime import _build, _conversation, _copy_example, _sha


def _planned(spec: str, node: str, overrides: dict[str, str] | None = None) -> list[Any]:
    """The planned rows of a render node, computed the way the scheduler does."""
    result = compile_file(spec, overrides)
    plan = result.plan
    assert plan is not None
    root = plan.program.root
    ctx = Context(plan, Cache(os.path.join(root, ".synthc")), Events(sys.stderr, True, None),
                  ModelPool(plan.program, root, "fake"))
    try:
        return run_until(ctx, [node])[node]
    finally:
        ctx.cache.close()


def test_group_width_changes_no_fake_byte(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The fake's outputs do not depend on batch composition, so any width gives the same bytes:
    # the scheduler reassembles groups in plan order, conversations included.
    shas = []
    for width in ("1", "5"):
        monkeypatch.setenv("SYNTHC_FAKE_CAPACITY", width)
        spec = _copy_example(os.path.join(str(tmp_path), width))
        _build(spec)
        out = os.path.join(str(tmp_path), width, "out", "quickstart")
        shas.append(_sha(os.path.join(out, "reviews.jsonl")))
        manifest = json.load(open(os.path.join(out, "manifest.json")))
        # Each round's rows are grouped per conversation turn: at width 1 a group per request, at
        # width 5 the turns' rows share groups (quota rounds add rows to the same conversations).
        requests = sum(e["requests"] for e in manifest["quota"]["default"].values())
        groups = manifest["groups"]["default"]
        assert groups["width"] == int(width) and requests >= 16
        assert groups["groups"] == requests if width == "1" else groups["groups"] < requests
    assert shas[0] == shas[1]


def test_conversation_turns_are_grouped_per_turn(tmp_path: str) -> None:
    spec = _conversation(str(tmp_path))
    rows = _planned(spec, "render:reviews.default")
    groups = group_rows(rows, 3)
    assert sorted(i for g in groups for i in g) == list(range(len(rows)))
    assert all(len({rows[i].turn for i in g}) == 1 for g in groups)  # a turn never waits on its own group
    turns = [rows[g[0]].turn for g in groups]
    assert turns == sorted(turns) and max(turns) > 0
    for turn in set(turns):  # each turn: its rows in plan order, chunked by the width
        members = [i for g in groups if rows[g[0]].turn == turn for i in g]
        assert members == sorted(members)
        assert [len(g) for g in groups if rows[g[0]].turn == turn][:-1] == [3] * (len(members) // 3 - (len(members) % 3 == 0))
    assert groups == group_rows(rows, 3)  # a pure function of the plan


class _Recording:
    """A Dispatcher that records the groups it is given, then runs them on a fake backend."""

    def __init__(self, pool: ModelPool, width: int) -> None:
        self.pool, self.width = pool, width
        self.groups: list[list[int]] = []

    def capacity(self, model: str) -> int:
        return self.width

    def submit(self, model: str, requests: Sequence[Request]) -> Future[list[Completion]]:
        self.groups.append([r.seed for r in requests])
        f: Future[list[Completion]] = Future()
        f.set_result(self.pool.get(model).generate_batch(requests))
        return f

    def close(self) -> None:
        pass


def test_groups_are_a_pure_function_of_the_plan(tmp_path: str) -> None:
    logs = []
    for run in ("a", "b"):
        spec = _copy_example(os.path.join(str(tmp_path), run), "li2023_imdb.synth", "specs")
        result = compile_file(spec, {"per_label": "3"})
        assert result.plan is not None
        exports = [n for n in result.plan.order() if result.plan.step(n).kind == "export"]
        recorder = _Recording(ModelPool(result.plan.program, result.plan.program.root, "fake"), 4)
        execute(result.plan, result.sources, quiet=True, backend="fake", select=exports, dispatcher=recorder)
        logs.append(recorder.groups)
    assert logs[0] == logs[1]
    # 3 variants x 6 rows and their quota rounds (attempts = 4); turn-0 requests the two zero-shot
    # variants share come from the cache
    assert all(1 <= len(g) <= 4 for g in logs[0]) and 6 < sum(map(len, logs[0])) <= 3 * 6 * 4


def test_rows_of_every_node_are_dispatched_before_the_first_finishes(tmp_path: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # cell-level scheduling: the backend is never left with one node's rows while others wait
    monkeypatch.setenv("SYNTHC_FAKE_DELAY", "0.2")
    monkeypatch.setenv("SYNTHC_FAKE_CAPACITY", "2")
    spec = _copy_example(str(tmp_path), "li2023_imdb.synth", "specs")
    result = compile_file(spec, {"per_label": "3"})
    assert result.plan is not None
    log = os.path.join(str(tmp_path), "events.jsonl")
    exports = [n for n in result.plan.order() if result.plan.step(n).kind == "export"]
    execute(result.plan, result.sources, quiet=True, backend="fake", select=exports, events=log)
    events = [json.loads(line) for line in open(log, encoding="utf-8")]
    kinds = [e["event"] for e in events]
    starts = [k for k, e in enumerate(events) if e["event"] == "generate_start"]
    assert len(starts) == 3 and max(starts) < kinds.index("row_done")


def _committed(spec: str) -> dict[str, set[str]]:
    path = os.path.join(os.path.dirname(spec), ".synthc", "cache.sqlite")
    if not os.path.exists(path):
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out: dict[str, set[str]] = {}
        for node, row in db.execute("SELECT node, row FROM generations"):
            out.setdefault(node, set()).add(row)
        return out
    except sqlite3.OperationalError:  # the table is not created yet
        return {}
    finally:
        db.close()


@pytest.mark.parametrize("extra_wait", [0.0, 0.13])
def test_kill_9_leaves_whole_groups_and_resumes_identically(tmp_path: str, extra_wait: float) -> None:
    width, overrides = 3, {"per_label": "12"}
    ref = _copy_example(os.path.join(str(tmp_path), "ref"))
    spec = _copy_example(os.path.join(str(tmp_path), "run"))
    env = dict(os.environ, SYNTHC_FAKE_DELAY="0.03", SYNTHC_FAKE_CAPACITY=str(width))
    cmd = [sys.executable, "-m", "synthc", "build", spec, "--backend", "fake", "--quiet", "--set", "per_label=12"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not _committed(spec) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    time.sleep(extra_wait)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    committed = _committed(spec).get("generate:reviews.default", set())
    rows = _planned(spec, "render:reviews.default", overrides)
    assert 0 < len(committed) < len(rows)
    for g in group_rows(rows, width):
        keys = {rows[i].key for i in g}
        assert keys <= committed or not keys & committed  # a group is in the cache whole or not at all
    assert not os.path.exists(os.path.join(str(tmp_path), "run", "out", "quickstart", "reviews.jsonl"))
    os.environ["SYNTHC_FAKE_CAPACITY"] = str(width)
    try:
        resumed = _build(spec, overrides=overrides)
        _build(ref, overrides=overrides)
    finally:
        del os.environ["SYNTHC_FAKE_CAPACITY"]
    assert f"{len(committed)} from cache" in resumed
    out = os.path.join("out", "quickstart", "reviews.jsonl")
    assert _sha(os.path.join(str(tmp_path), "run", out)) == _sha(os.path.join(str(tmp_path), "ref", out))


# -- stops that end an example, and echoed prompt text ---------------------------------------

FEWSHOT = """
model m {{
  gguf       = builtin("smollm2-135m")
  mode       = completion
  max_tokens = 60
}}

labels ag {{
  Sports = "about sports"
  World  = "about international news"
}}

source seeds {{
  path  = "{data}"
  label = "label"

  sample {{
    per_label = 4
    strategy  = balanced
    seed      = 1
  }}
}}

task news {{
  labels    = ag
  model     = m
  seeds     = seeds
  per_label = 3
  attempts  = 1  # one round: the test counts the requests
  prompt    = "{{{{ demos }}}}\\n\\nWrite a summary for a news article {{{{ verbalization }}}}.\\nSummary: "

  fewshot {{
    shots      = 2
    from       = seeds
    same_label = true
    demo       = "Write a summary for a news article {{{{ verbalization }}}}.\\nSummary: {{{{ example.text }}}}"
    separator  = "\\n\\n"
  }}
}}

export news {{
  task = news
  path = "out/news.jsonl"
}}
"""

# What a base model does without stops: answer, then start the next example of the pattern.
ANSWERS = [
    ("Team {n} wins the cup.\n\nWrite a summary for a news article about sports.\nSummary: More", "length"),
    ("Write a summary for a news article about sports.", "length"),
    ("A clean summary of match {n}.", "stop"),
]


class _Echoing:
    """A Dispatcher whose model ignores stops and echoes the prompt, cycling through ANSWERS."""

    def __init__(self) -> None:
        self.requests: list[Request] = []

    def capacity(self, model: str) -> int:
        return 4

    def submit(self, model: str, requests: Sequence[Request]) -> Future[list[Completion]]:
        out = []
        for r in requests:
            n = len(self.requests)
            text, finish = ANSWERS[n % len(ANSWERS)]
            text = text.format(n=n)
            self.requests.append(r)
            out.append(Completion(text, 100, len(text.split()), 100, finish))
        f: Future[list[Completion]] = Future()
        f.set_result(out)
        return f

    def close(self) -> None:
        pass


def test_fewshot_completion_stops_and_echoes(tmp_path: str) -> None:
    spec = os.path.join(str(tmp_path), "news.synth")
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write(FEWSHOT.format(data=os.path.join(DATA, "ag_news", "train.jsonl")))
    result = compile_file(spec, allow=[DATA])  # the data lives outside this scratch project
    assert result.plan is not None, result.diagnostics
    model = _Echoing()
    execute(result.plan, result.sources, quiet=True, backend="fake", dispatcher=model)
    assert len(model.requests) == 6
    assert model.requests[0].stop == ("\n\n", "\nWrite a summary for a news article", "\nSummary:")
    rows = [json.loads(line) for line in open(os.path.join(str(tmp_path), "out", "news.jsonl"), encoding="utf-8")]
    assert [r["text"] for r in rows] == ["Team 0 wins the cup.", "A clean summary of match 2.",
                                         "Team 3 wins the cup.", "A clean summary of match 5."]
    assert [r["provenance"]["finish"] for r in rows] == ["length", "stop"] * 2
    manifest = json.load(open(os.path.join(str(tmp_path), "out", "manifest.json")))
    assert manifest["cut"]["default"] == {"echo": 2} and manifest["dropped"]["default"] == {"echo.template": 2}
    saved = 2 * (60 - len(ANSWERS[2][0].split()))  # rows ended by a stop, against the cap
    assert manifest["stops"]["default"] == {"rows": 2, "tokens_saved": saved}


@pytest.mark.parametrize("text, expected", [
    ("A summary.\nNews Article: x", ("A summary.\n", True)),  # a fixed line at a line start
    ("A summary. News Article: x", ("A summary. News Article: x", False)),  # mid-line: a short line is no echo
    ("Fine. The summary should be one or two short sentences.", ("Fine. ", True)),  # a long fragment anywhere
    ("Nothing echoed here.", ("Nothing echoed here.", False)),
])
def test_cut_echo(text: str, expected: tuple[str, bool]) -> None:
    echo = Echo(lines=("News Article:",), fragments=("The summary should be one or two short sentences.",))
    assert cut_echo(text, echo) == expected

