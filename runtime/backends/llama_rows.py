"""One sequence of a batch: its sampler, its constraint (llguidance token masks), its stops.

Free text samples with llama.cpp's own sampler chain (top-p, temperature, a `dist` sampler seeded
from `Request.seed`: the same chain `Llama.create_completion` builds with top_k=0, min_p=0).
Constrained rows (select, regex, JSON, template: runtime/backends/constraints/) compute their
token mask per step with an llguidance `LLMatcher` compiled from the grammar guidance builds and
serializes (guidance's own model loop drives one sequence, so the batch drives the matchers
itself) and sample the masked logits with the same chain; `select` decodes greedily, as
guidance's `select` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synthc.runtime.backends.base import Completion, Constraint, Request
from synthc.runtime.backends.copy_guard import CopyGuard
from synthc.runtime.backends.constraints import grammar_text as built, kind

__all__ = ["DecodeSlot", "Grammars", "sampler_chain"]

def grammar_text(c: Constraint) -> str:
    """The llguidance grammar of a constraint, as guidance builds and serializes it (the kinds'
    builders: runtime/backends/constraints/)."""
    return built(c)


class Grammars:
    """Compiled matchers per constraint, copied per row (compiling a JSON schema costs ms)."""

    def __init__(self, vocab: Any) -> None:
        self._vocab = vocab
        self._tokenizer: Any = None
        self._matchers: dict[Constraint, Any] = {}

    def matcher(self, c: Constraint) -> Any:
        from llguidance import LLMatcher

        if self._tokenizer is None:  # ~1 s on a 262k vocabulary: only once, and only if needed
            from llguidance.llamacpp import lltokenizer_from_vocab

            self._tokenizer = lltokenizer_from_vocab(self._vocab)
        if c not in self._matchers:
            m = LLMatcher(self._tokenizer, grammar_text(c), log_level=0)
            if m.is_error():
                raise ValueError(f"invalid {c.kind} constraint: {m.get_error()}")
            self._matchers[c] = m
        return self._matchers[c].deep_copy()


def sampler_chain(L: Any, request: Request) -> Any:
    """llama.cpp's sampler for one row: greedy for `select` or temperature 0, else top-p →
    temperature → a distribution sampler seeded from the row's seed."""
    chain = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
    if kind(request.constraint).greedy or request.temperature <= 0:
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_greedy())
        return chain
    if request.top_p < 1.0:
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_top_p(request.top_p, 1))
    L.llama_sampler_chain_add(chain, L.llama_sampler_init_temp(request.temperature))
    L.llama_sampler_chain_add(chain, L.llama_sampler_init_dist(request.seed % (1 << 32)))
    return chain


@dataclass(slots=True)
class DecodeSlot:
    """A request being decoded in one KV stream."""

    index: int  # position in the group
    request: Request
    stream: int
    pos: int  # position of the next token to decode
    sampler: Any
    matcher: Any  # llguidance LLMatcher, or None for free text
    prompt_tokens: int
    evaluated: int
    last: int = -1  # the token to feed at the next step
    out: bytearray = field(default_factory=bytearray)
    produced: int = 0
    logprob_sum: float = 0.0
    finish: str | None = None
    heal: bytes = b""  # spaces healed out of the prompt: the first token starts with them (not output)
    guard: CopyGuard | None = None  # spans the row must not copy (copy_guard.py)
    prompt_last: int = -1  # the prompt's last token: fed again when a row is rewound to its start
    # Kept for the guard only: each output token, its log-probability, and the output's length after it.
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    bans: dict[int, set[int]] = field(default_factory=dict)  # output index -> tokens a rewind banned there
    rewinds: int = 0

    def accept(self, token: int, logprob: float, piece: bytes, is_eog: bool) -> None:
        """Take one sampled token; sets `finish` when the row is complete."""
        self.produced += 1
        self.logprob_sum += logprob
        self.last = token
        if self.guard is not None:
            self.tokens.append(token)
            self.logprobs.append(logprob)
            self.guard.note(self.tokens)
        if self.matcher is not None:
            if is_eog:  # the mask only allows end-of-text where the grammar may end
                self.finish = "stop"
                return
            if not self.matcher.consume_token(token):
                raise RuntimeError(f"constraint rejected a token it allowed: {self.matcher.get_error()}")
            self.out += piece
            if self.matcher.is_stopped():
                self.finish = "stop"
                return
        elif is_eog:
            self.finish = "stop"
            return
        else:
            if self.heal and self.produced == 1 and piece.startswith(self.heal):
                piece = piece[len(self.heal):]  # the prompt's own spaces, restored: not the answer's
            before = len(self.out)
            self.out += piece
            if self.guard is not None:
                self.ends.append(len(self.out))
            for stop in self.request.stop:
                s = stop.encode("utf-8")
                if not s:
                    continue
                at = self.out.find(s, max(0, before - len(s) + 1))
                # A blank stop ("\n\n") before any text is leading blank space, not the end of
                # the answer (a model that opens with a blank line, after a prefill say): go on.
                if at >= 0 and (self.out[:at].strip() or s.strip()):
                    del self.out[at:]
                    self.finish = "stop"
                    return
        if self.produced >= self.request.max_tokens:
            self.finish = "length"

    def banned(self, copies: bool) -> set[int]:
        """Tokens the next sample may not take: the guard's spans (copied ones with `copies`) and
        what a rewind banned at this index."""
        assert self.guard is not None
        return self.guard.banned(self.tokens, copies) | self.bans.get(len(self.tokens), set())

    def rewind(self, start: int) -> None:
        """Take the output back to its first `start` tokens and ban the token that stood at
        `start` there; the next step feeds the token before it again (`last` at `pos`)."""
        assert self.guard is not None
        # bans further on were made after tokens now taken back: they no longer apply
        self.bans = {i: b for i, b in self.bans.items() if i <= start}
        self.bans.setdefault(start, set()).add(self.tokens[start])
        del self.tokens[start:], self.logprobs[start:], self.ends[start:]
        del self.out[self.ends[-1] if self.ends else 0:]
        self.produced = start
        self.logprob_sum = sum(self.logprobs)
        self.last = self.tokens[-1] if start else self.prompt_last
        self.pos = self.prompt_tokens + start - 1
        self.rewinds += 1
        self.guard.forget(self.tokens)

    def completion(self) -> Completion:
        text = self.out.decode("utf-8", errors="ignore")
        mean = self.logprob_sum / self.produced if self.produced else None
        return Completion(text, self.prompt_tokens, self.produced, self.evaluated, self.finish or "length",
                          logprob=mean)
