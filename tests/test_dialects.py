"""Server dialects as registered kinds (the compiler's specs and the runtime's classes name the same
dialects, and each class implements exactly its spec's constraint cells), prefix-affine slot
routing as a pure function, the local check of constrained answers, and URL userinfo redaction."""

from __future__ import annotations

import json
import pytest

from synthc.compiler import dialects as specs
from synthc.compiler.endpoints import redact_url, split_userinfo
from synthc.compiler.schema import DIALECTS, ENDPOINT_FIELDS
from synthc.runtime.backends import dialects
from synthc.runtime.backends.base import Constraint, Request
from synthc.runtime.backends.routing import PREFIX_CHARS, assign, prefix_of
from synthc.runtime.backends.verify import violation


def test_both_registries_name_the_same_dialects_and_the_schema_reads_them() -> None:
    assert tuple(dialects.REGISTRY) == tuple(specs.DIALECTS) == DIALECTS
    for name, d in dialects.REGISTRY.items():
        assert d.spec is specs.get(name) and d.spec.doc
    dialect = next(f for f in ENDPOINT_FIELDS if f.name == "dialect")
    assert dialect.type.choices == DIALECTS and len(dialect.type.choice_docs) == len(DIALECTS)


def _req(kind: str, mode: str) -> Request:
    c = {"text": Constraint(), "select": Constraint("select", ("a", "b")), "regex": Constraint("regex", pattern="x+"),
         "json": Constraint("json", schema='{"type": "object"}')}[kind]
    msgs = (("user", "u"),) if mode == "chat" else (("text", "p"),)
    return Request(messages=msgs, mode=mode, constraint=c, max_tokens=4, temperature=0.5, top_p=1.0, stop=(), seed=1)


@pytest.mark.parametrize("name", list(specs.DIALECTS))
def test_each_class_builds_exactly_the_cells_its_spec_declares(name: str) -> None:
    d = dialects.get(name)
    for mode in ("chat", "completion"):
        for kind in ("text", "select", "regex", "json"):
            if kind in d.spec.constrains(mode):
                wire = d.build("m", _req(kind, mode))
                assert wire.dialect == name and (kind == "text") == (set(wire.body) <= {
                    "model", "max_tokens", "temperature", "top_p", "seed", "messages", "prompt", "logprobs"})
            else:
                with pytest.raises(dialects.Unsupported):
                    d.build("m", _req(kind, mode))


@pytest.mark.parametrize("name", list(specs.DIALECTS))
def test_a_prefill_is_the_answers_start_where_the_spec_says_the_server_continues_it(name: str) -> None:
    from dataclasses import replace

    d = dialects.get(name)
    completion = d.build("m", replace(_req("text", "completion"), prefill="Summary:"))
    assert completion.body["prompt"] == "pSummary:"  # a completion prompt simply ends with it
    chat = replace(_req("text", "chat"), prefill="Summary:")
    if not d.spec.prefill:
        with pytest.raises(dialects.Unsupported):
            d.build("m", chat)
        return
    body = d.build("m", chat).body
    assert body["messages"][-1] == {"role": "assistant", "content": "Summary:"}
    if name in ("vllm", "sglang"):  # they start a new turn after it unless told to continue it
        assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert "prefill" not in _req("text", "chat").data()  # keys of requests without one are unchanged


def test_llama_cpp_reads_evaluated_tokens_and_pins_slots() -> None:
    d = dialects.get("llama_cpp")
    wire = d.build("m", _req("text", "chat"))
    d.pin(wire.body, 1)
    assert wire.body["id_slot"] == 1 and wire.body["cache_prompt"] is True
    answer = {"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 900, "completion_tokens": 2}, "timings": {"prompt_n": 12}}
    assert d.read(wire, answer, ()).evaluated_tokens == 12
    facts = d.probe(lambda path: {"total_slots": 3, "default_generation_settings": {"n_ctx": 2048},
                                  "model_path": "/x/m.gguf", "build_info": "b1"} if path == "/props" else None)
    assert facts.slots == 3 and facts.context == 2048 and facts.identity["props"]["model"] == "m.gguf"
    assert d.probe(lambda path: None).slots == 0  # /props off: the server picks slots itself
    openai = dialects.get("openai")
    cached = dict(answer, usage={"prompt_tokens": 900, "prompt_tokens_details": {"cached_tokens": 800}})
    assert openai.read(openai.build("m", _req("text", "chat")), cached, ()).evaluated_tokens == 100
    assert dialects.get("vllm").probe(lambda path: {"total_slots": 3}).slots == 0  # shared prefix cache


# -- routing ---------------------------------------------------------------------------------

DEMOS = {k: f"Examples of {k} news:\n" + "\n".join(f"{k} item {i}: " + "words " * 12 for i in range(8))
         for k in ("sports", "business", "science", "world")}


def _fewshot(n: int) -> list[str]:
    names = list(DEMOS)
    return [DEMOS[names[i % 4]] + f"\nWrite item #{i}." for i in range(n)]


def test_routing_is_a_pure_function_that_keeps_a_prefix_on_one_slot() -> None:
    texts = _fewshot(16)
    plan = assign(texts, 4)
    assert plan == assign(list(texts), 4)  # no timing, no state
    assert sorted(i for slot in plan for i in slot) == list(range(16))  # each request once
    assert max(map(len, plan)) == 4  # a fair share each
    slot_of = {i: s for s, order in enumerate(plan) for i in order}
    for k in DEMOS:  # every group of 4 on one slot...
        assert len({slot_of[i] for i, t in enumerate(texts) if t.startswith(DEMOS[k][:PREFIX_CHARS])}) == 1
    for order in plan:  # ...sent in prefix order
        assert [texts[i] for i in order] == sorted(texts[i] for i in order)
    # A prefix has a home slot: one request at a time (a group per row), its rows still meet there.
    single = [next(s for s, order in enumerate(assign([t], 4)) if order) for t in texts]
    assert all(single[i] == single[i + 4] for i in range(12)) and len(set(single)) > 1


def test_one_big_group_spills_in_contiguous_runs() -> None:
    texts = [DEMOS["sports"] + f"#{i:02d}" for i in range(10)]
    plan = assign(texts, 3)
    assert sorted(map(len, plan)) == [2, 4, 4]
    for order in plan:
        assert order == sorted(order)  # contiguous stretches of the prefix-ordered group


# -- verification ------------------------------------------------------------------------------

def test_violations_of_each_constraint_kind() -> None:
    assert violation(Constraint("select", ("yes", "no")), "yes") is None
    assert "none of yes, no" in str(violation(Constraint("select", ("yes", "no")), "maybe"))
    assert violation(Constraint("regex", pattern="[A-Z]{2}-[0-9]"), "AB-1") is None
    assert "does not match" in str(violation(Constraint("regex", pattern="[A-Z]{2}-[0-9]"), "AB-12"))
    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 5}}, "required": ["n"]}
    c = Constraint("json", schema=json.dumps(schema))
    assert violation(c, '{"n": 3}') is None
    assert "`n`" in str(violation(c, '{"n": 9}')) and "not JSON" in str(violation(c, "n = 3"))
    assert violation(Constraint(), "anything") is None


# -- redaction ---------------------------------------------------------------------------------

def test_redact_url_drops_userinfo_and_nothing_else() -> None:
    assert redact_url("http://user:sk-1@host:8080/v1") == "http://host:8080/v1"
    assert redact_url("https://sk-1@api.example.com/v1") == "https://api.example.com/v1"
    plain = "http://127.0.0.1:8080/v1"
    assert redact_url(plain) == plain and split_userinfo(plain) == (plain, "")
    assert split_userinfo("http://u:p%40ss@h/v1") == ("http://h/v1", "u:p%40ss")


def test_a_slot_starts_with_the_prefix_it_served_last() -> None:
    texts = _fewshot(8)  # 4 prefixes x 2 rows on 2 slots: two prefixes per slot
    plan = assign(texts, 2)
    for s, order in enumerate(plan):
        second = prefix_of(texts[order[-1]])  # the prefix this slot served last in the previous group
        again = assign(texts, 2, last=[second if k == s else None for k in range(2)])
        assert prefix_of(texts[again[s][0]]) == second and sorted(again[s]) == sorted(order)
