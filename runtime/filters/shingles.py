"""Word n-gram shingles: two texts share an n-word span (after normalisation) when their shingle
sets meet. One hash set per collection of texts makes a lookup O(words of the row)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["normalize", "words", "shingles", "ShingleIndex", "Match"]


def normalize(text: str) -> str:
    """Lower case, NFKC, punctuation to spaces, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text)).strip()


def words(text: str) -> list[str]:
    return normalize(text).split()


def shingles(tokens: Sequence[str], n: int) -> Iterable[tuple[int, int]]:
    """(position, hash) of every n-word window. Python's string hash is salted per process, which
    changes nothing here: only equality of windows within one process is used."""
    for i in range(len(tokens) - n + 1):
        yield i, hash(tuple(tokens[i:i + n]))


@dataclass(frozen=True, slots=True)
class Match:
    doc: int  # index of the first text holding the shared span
    span: str  # the shared words


@dataclass(slots=True)
class ShingleIndex:
    """Every n-word window of some texts -> the first text holding it."""

    n: int
    first: dict[int, int] = field(default_factory=dict)

    @classmethod
    def build(cls, texts: Iterable[str], n: int) -> ShingleIndex:
        index = cls(n)
        for d, text in enumerate(texts):
            for _, h in shingles(words(text), n):
                index.first.setdefault(h, d)
        return index

    def find(self, text: str) -> Match | None:
        """The first window of `text` that some indexed text shares, or None."""
        tokens = words(text)
        for i, h in shingles(tokens, self.n):
            d = self.first.get(h)
            if d is not None:
                return Match(d, " ".join(tokens[i:i + self.n]))
        return None

    def overlaps(self, text: str) -> dict[int, int]:
        """Indexed text -> how many of `text`'s windows it holds first."""
        out: dict[int, int] = {}
        for _, h in shingles(words(text), self.n):
            d = self.first.get(h)
            if d is not None:
                out[d] = out.get(d, 0) + 1
        return out
