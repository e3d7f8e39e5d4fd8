"""A conversation's history trimmed to the model's context (runtime/prompting/history.py): the pure fit, a
long conversation that used to fail with E506 built on the fake backend (a token is a word), the
build and `synthc plan` agreeing on every cache key, and a turn too long by itself still E506."""

from __future__ import annotations

import json
import os
import re
import shutil
from concurrent.futures import Future
from dataclasses import replace
from typing import Sequence

import pytest

from conftest import ROOT
from synthc.compiler import compile_file
from synthc.runtime import RunFailed, execute
from synthc.runtime.backends.base import Completion, Constraint, Request
from synthc.runtime.preview.run import preview
from synthc.runtime.prompting.history import Fitted, fit_history, history_turns
from synthc.runtime.models.load import ModelPool
from test_runtime import _copy_example, _sha

CONTEXT = 260  # tests/recipes/conversation_long.synth


def _request(turns: int, system: bool = True, words: int = 10, max_tokens: int = 20) -> Request:
    """A chat request: a system message, `turns` earlier turns and the current user message, each
    message `words` words long and named by its position."""
    msgs = [("system", " ".join(["sys"] * words))] if system else []
    for t in range(turns):
        msgs += [("user", " ".join([f"u{t}"] * words)), ("assistant", " ".join([f"a{t}"] * words))]
    msgs.append(("user", " ".join(["now"] * words)))
    return Request(tuple(msgs), "chat", Constraint(), max_tokens, 1.0, 1.0, (), 1, shared=1 if system else 0)


class _Words:
    """The fake's measure (words of every message), counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: Request) -> int:
        self.calls += 1
        return sum(len(content.split()) for _, content in request.messages)


def test_fit_leaves_out_the_oldest_turns_only() -> None:
    req = _request(4)  # 10 messages of 10 words: 100 + max_tokens 20
    measure = _Words()
    fitted = fit_history(req, measure, 20 + 60)  # room for the system, two turns and the current message
    assert fitted.dropped == 2 and history_turns(fitted.request) == 2
    assert [m[1].split()[0] for m in fitted.request.messages] == ["sys", "u2", "a2", "u3", "a3", "now"]
    assert fitted.request.messages[-1] == req.messages[-1] and fitted.request.shared == 1
    assert fitted.request == replace(req, messages=fitted.request.messages)  # nothing else changes
    assert measure.calls == 3  # the full request, then one turn less each time, until it fits
    assert fit_history(req, measure, 20 + 60) == fitted  # a pure function


def test_fit_measures_only_when_needed() -> None:
    measure = _Words()
    fits = _request(3)
    assert fit_history(fits, measure, 1000) == Fitted(fits, 0) and measure.calls == 1  # one look
    alone = _request(0)
    assert fit_history(alone, measure, 1) == Fitted(alone, 0) and measure.calls == 1  # no history: none
    completion = Request((("text", "a b c"),), "completion", Constraint(), 20, 1.0, 1.0, (), 1)
    assert fit_history(completion, measure, 1) == Fitted(completion, 0) and measure.calls == 1
    bare = _request(2, system=False)
    fitted = fit_history(bare, measure, 20 + 30)  # no system message: the current one and one turn
    assert [m[1].split()[0] for m in fitted.request.messages] == ["u1", "a1", "now"] and fitted.dropped == 1


def test_a_current_message_too_long_goes_without_history() -> None:
    # Not even the system and current message fit: every turn goes, and the backend refuses the
    # rest as before (E506); the last candidate is not measured, the backend measures it.
    measure = _Words()
    fitted = fit_history(_request(3), measure, 20 + 15)
    assert fitted.dropped == 3 and [m[0] for m in fitted.request.messages] == ["system", "user"]
    assert measure.calls == 3


class _Recording:
    """A Dispatcher on the fake backend that keeps every request sent, with its answer."""

    def __init__(self) -> None:
        self.pool: ModelPool | None = None  # the build's program's, set by _execute
        self.sent: list[tuple[Request, str]] = []

    def capacity(self, model: str) -> int:
        return 4

    def submit(self, model: str, requests: Sequence[Request]) -> Future[list[Completion]]:
        assert self.pool is not None
        done = self.pool.get(model).generate_batch(requests)
        self.sent += [(r, c.text) for r, c in zip(requests, done)]
        f: Future[list[Completion]] = Future()
        f.set_result(done)
        return f

    def close(self) -> None:
        pass


def _long(tmp: str) -> str:
    return _copy_example(tmp, "conversation_long.synth", os.path.join("tests", "recipes"), into="recipes")


def _execute(spec: str, dispatcher: _Recording | None = None) -> str:
    result = compile_file(spec)
    assert result.plan is not None, result.diagnostics
    if dispatcher is not None:
        dispatcher.pool = ModelPool(result.plan.program, result.plan.program.root, "fake")
    return execute(result.plan, result.sources, quiet=True, backend="fake", dispatcher=dispatcher)


def test_untrimmed_the_long_conversation_overflows(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # What the recipe did before histories were trimmed: E506 at the first turn that outgrew the context.
    monkeypatch.setattr("synthc.runtime.engine.scheduler.fitter", lambda be, context: lambda req: Fitted(req))
    with pytest.raises(RunFailed) as info:
        _execute(_long(str(tmp_path)))
    assert info.value.diagnostics[0].code.id == "E506"


def test_a_long_conversation_builds_with_its_recent_turns(tmp_path: str) -> None:
    spec = _long(str(tmp_path))
    recorder = _Recording()
    summary = _execute(spec, recorder)
    out = os.path.join(str(tmp_path), "out", "long")
    assert os.path.exists(os.path.join(out, "reviews.jsonl")), summary
    answers = {(r.messages[-1][1], text): r for r, text in recorder.sent}  # (user message, answer) -> its request
    trimmed = 0
    for req, _ in recorder.sent:
        words = sum(len(c.split()) + 1 for _, c in req.messages)  # the fake's count: a role tag per message
        assert words + req.max_tokens <= CONTEXT
        assert req.messages[0][0] == "system" and req.messages[-1][0] == "user"
        assert req.messages[-1][1].startswith("Write a film review")  # the current prompt, always last
        history = req.messages[1:-1]
        if not history:
            continue
        # The turns sent are consecutive turns of the conversation, in order: each one's own
        # request had the one before it as its last earlier turn.
        pairs = [(history[k][1], history[k + 1][1]) for k in range(0, len(history), 2)]
        for before, after in zip(pairs, pairs[1:]):
            assert answers[after].messages[-3:-1] == (("user", before[0]), ("assistant", before[1]))
        oldest = answers[pairs[0]]
        if history_turns(oldest) > 0:  # turns were left out: the one before the oldest sent did not fit
            trimmed += 1
            older = oldest.messages[-3:-1]
            longer = req.messages[:1] + older + req.messages[1:]
            assert sum(len(c.split()) + 1 for _, c in longer) + req.max_tokens > CONTEXT
    assert trimmed > 0
    rows = [json.loads(line)["provenance"] for line in open(os.path.join(out, "reviews.jsonl"), encoding="utf-8")]
    cut = [p["conversation"] for p in rows if "history_turns" in p["conversation"]]
    assert cut and all(c["history_turns"] < c["turn"] for c in cut)
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    left = manifest["history"]["default"]
    assert left["rows"] >= len(cut) and left["turns_left_out"] >= left["rows"]


def test_a_rebuild_and_plan_find_every_trimmed_row_cached(tmp_path: str) -> None:
    spec = _long(str(tmp_path))
    first = _execute(spec)
    out = os.path.join(str(tmp_path), "out", "long")
    before = {name: _sha(os.path.join(out, name)) for name in ("reviews.jsonl", "manifest.json")}
    again = _execute(spec)
    assert re.search(r": 0 generated, [1-9][0-9]* from cache", again), (first, again)
    assert {name: _sha(os.path.join(out, name)) for name in before} == before
    plan = compile_file(spec).plan
    assert plan is not None
    found = preview(plan, backend="fake")
    (node,) = found.nodes
    assert found.nodes[node].new == 0 and found.nodes[node].cached > 0  # `synthc plan`: nothing new
    looked = found.nodes[node].rows
    assert any(history_turns(rr.request) < rr.row.turn for rr in looked)  # trimmed there too, the same way


def test_the_same_bytes_twice(tmp_path: str) -> None:
    outs = []
    for run in ("a", "b"):
        _execute(_long(os.path.join(str(tmp_path), run)))
        out = os.path.join(str(tmp_path), run, "out", "long")
        outs.append({name: _sha(os.path.join(out, name)) for name in ("reviews.jsonl", "manifest.json")})
    assert outs[0] == outs[1]


def test_a_turn_too_long_by_itself_is_still_e506(tmp_path: str) -> None:
    # tests/runtime_errors/E506_conversation_turn_too_long.synth: turns 0 and 1 are generated (turn
    # 1 without turn 0), turn 2's message alone overflows.
    src = os.path.join(ROOT, "tests", "runtime_errors")
    work = os.path.join(str(tmp_path), "case")
    shutil.copytree(src, work)
    spec = os.path.join(work, "E506_conversation_turn_too_long.synth")
    log = os.path.join(str(tmp_path), "events.jsonl")
    result = compile_file(spec)
    assert result.plan is not None, result.diagnostics
    with pytest.raises(RunFailed) as info:
        execute(result.plan, result.sources, quiet=True, backend="fake", events=log)
    assert info.value.diagnostics[0].code.id == "E506"
    done = [e["row"] for e in map(json.loads, open(log, encoding="utf-8")) if e["event"] == "row_done"]
    # the first round has 4 rows at the prior keep rate (runtime/engine/quota.py): 000003 opens the second
    # conversation (reset_after = 3), so its turn 0 is generated beside the first conversation's
    assert sorted(done) == ["positive/000000", "positive/000001", "positive/000003"]


def test_show_finds_the_later_rounds_of_a_trimmed_conversation(tmp_path: str) -> None:
    # A word bound that drops the fake's short answers: the quota loop plans later rounds, which
    # continue the label's conversations (trimmed too). `preview` (runtime/preview/run.py) — what `synthc show`
    # prints — must carry every dataset row's request exactly as the build sent it.
    import hashlib

    spec = _long(str(tmp_path))
    with open(spec, encoding="utf-8") as f:
        text = f.read()
    with open(spec, "w", encoding="utf-8") as f:
        f.write(text.replace("words  = 5..150", "words  = 25..150"))
    _execute(spec)
    out = os.path.join(str(tmp_path), "out", "long")
    quota = json.load(open(os.path.join(out, "manifest.json")))["quota"]["default"]
    assert any(q["requests"] > q["wanted"] for q in quota.values())  # later rounds happened
    plan = compile_file(spec).plan
    assert plan is not None
    found = preview(plan, backend="fake")
    (node,) = found.nodes
    shown = {rr.row.key: rr for rr in found.nodes[node].rows}
    rows = [json.loads(line)["provenance"] for line in open(os.path.join(out, "reviews.jsonl"), encoding="utf-8")]
    later = [shown[p["row"]] for p in rows if shown[p["row"]].later]
    assert later and any(history_turns(rr.request) < rr.row.turn for rr in later)
    for p in rows:
        sent = json.dumps(shown[p["row"]].request.messages, ensure_ascii=False)
        assert hashlib.sha256(sent.encode()).hexdigest() == p["prompt_sha256"], p["row"]
