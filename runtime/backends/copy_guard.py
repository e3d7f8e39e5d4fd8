"""The decoder's copy guard: a row never completes a span of tokens that one of its `avoid` texts
holds (its prompt's demos, under a `near_copy` filter: runtime/prompting/rows.py), nor repeats a
span of its own output (`model.no_repeat_ngram`).

A few-shot row is shown 3 to 32 real examples and a 135M model often copies one of them nearly
whole; the `near_copy` filter then drops it, and the request is spent. The guard prevents the copy
instead. When the token just sampled completes a span of `span` tokens of an avoided text, the row
is *rewound* to where that span began and its first token is banned there (llama_batch.py): the
model takes another turn at the point where it chose to start copying, where it had other words to
choose from. Banning only the span's last token instead leaves a copy with one word mangled ("open
UuS bank accounts" for a demo's "open U.S. bank accounts"), which the filter no longer sees. After
`REWINDS` rewinds a row falls back to that ban, so a row always ends.

The same rule against the row's own tokens is Hugging Face's `no_repeat_ngram_size`: a small model
that starts a loop ("Ultra-Chrono-2 Ultra-Chrono-2 ...") runs to the token cap and is dropped
there, unless the loop's second turn is banned.

Tokens, not words: the filter compares lower-cased words without punctuation, and every such word
is at least one token, so a copied `n`-word span holds at least `n` tokens of the text as the
prompt tokenized it. Tokens are compared up to case (`Cases`: " Public" is " public"), as the
filter compares words; the guard's span is `n - 1` tokens, which also covers a copy whose first
word the tokenizer splits otherwise once capitalised. A copy the model spells in other tokens
(rare: it samples the text's own tokens) is still the filter's to drop. A pure function of the
row's tokens: deterministic, and the same whatever else decodes beside the row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

__all__ = ["Cases", "CopyGuard", "guard_span", "REWINDS"]

REWINDS = 16  # per row; each costs at most `span` tokens decoded again, next to a prompt of thousands


def guard_span(words: int) -> int:
    """The token span that keeps a row under `words` copied words (see the module's note)."""
    return max(2, words - 1)


class Cases:
    """Token ids up to case: `canon[t]` is the smallest id whose piece is t's, lower-cased, and
    `members[c]` every id with that piece (so a ban of " public" bans " Public" and " PUBLIC")."""

    def __init__(self, pieces: Sequence[bytes]) -> None:
        first: dict[bytes, int] = {}
        self.canon = [first.setdefault(p.lower(), t) for t, p in enumerate(pieces)]
        members: dict[int, list[int]] = {}
        for t, c in enumerate(self.canon):
            members.setdefault(c, []).append(t)
        self.members = {c: tuple(ts) for c, ts in members.items() if len(ts) > 1}

    def of(self, tokens: Sequence[int]) -> list[int]:
        return [self.canon[t] for t in tokens]

    def spelled(self, canon: set[int]) -> set[int]:
        """Every id of the canonical ids `canon`."""
        return {t for c in canon for t in self.members.get(c, (c,))}


def _follow(sequences: Iterable[Sequence[int]], span: int) -> dict[tuple[int, ...], set[int]]:
    """For each run of `span - 1` tokens, the tokens that follow it in `sequences`."""
    out: dict[tuple[int, ...], set[int]] = {}
    for tokens in sequences:
        for i in range(len(tokens) - span + 1):
            out.setdefault(tuple(tokens[i:i + span - 1]), set()).add(tokens[i + span - 1])
    return out


@dataclass(slots=True)
class CopyGuard:
    """One row's rule. `span`/`avoided`: spans of the avoided texts, in canonical ids (`cases`);
    `repeat`/`own`: spans of the row's own tokens, filled as it decodes (`note`). 0 switches a
    half off."""

    span: int = 0
    avoided: dict[tuple[int, ...], set[int]] = field(default_factory=dict)
    repeat: int = 0
    own: dict[tuple[int, ...], set[int]] = field(default_factory=dict)
    cases: Cases | None = None

    @classmethod
    def of(cls, texts: Iterable[str], span: int, tokenize: Callable[[str], list[int]], repeat: int = 0,
           cases: Cases | None = None) -> CopyGuard:
        """Each text is tokenized as a demo shows it, after a space (`"Summary: {{ example.text }}"`)."""
        texts = list(texts)
        spelled = (tokenize(" " + t.strip()) for t in texts)
        avoided = _follow((cases.of(t) if cases else t for t in spelled), span) if texts and span else {}
        return cls(span if avoided else 0, avoided, repeat, cases=cases)

    def _copied(self, produced: Sequence[int]) -> set[int]:
        """Canonical ids that would complete an avoided span after `produced`."""
        tail = produced[len(produced) - self.span + 1:]
        return self.avoided.get(tuple(self.cases.of(tail) if self.cases else tail), set())

    def note(self, produced: Sequence[int]) -> None:
        """The row took its last token: remember the span it ends (for `repeat`)."""
        if self.repeat and len(produced) >= self.repeat:
            self.own.setdefault(tuple(produced[len(produced) - self.repeat:-1]), set()).add(produced[-1])

    def forget(self, produced: Sequence[int]) -> None:
        """The row was rewound to `produced`: its own spans are those of what is left."""
        self.own = _follow([produced], self.repeat) if self.repeat else {}

    def copy_start(self, produced: Sequence[int], token: int) -> int | None:
        """Where the copied span `token` would complete after `produced` starts (an index into
        `produced`), or None when it completes none."""
        n = self.span
        if not n or len(produced) < n - 1:
            return None
        canon = self.cases.canon[token] if self.cases else token
        return len(produced) - n + 1 if canon in self._copied(produced) else None

    def banned(self, produced: Sequence[int], copies: bool = True) -> set[int]:
        """The tokens that would complete a repeated span after `produced`, and with `copies` a
        copied one."""
        out: set[int] = set()
        if copies and self.span and len(produced) >= self.span - 1:
            copied = self._copied(produced)
            out |= self.cases.spelled(copied) if self.cases else copied
        if self.repeat and len(produced) >= self.repeat - 1:
            out |= self.own.get(tuple(produced[len(produced) - self.repeat + 1:]), set())
        return out
