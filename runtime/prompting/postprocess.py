"""After generation: parse completions into candidate rows (the filters that follow live in
runtime/filters/).

Parse: split on the answer prefix, strip quotes, reject refusals (SynthesizRR §1.2 step 6), drop
what the token cap cut short."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from synthc.compiler import ir
from synthc.runtime.backends.constraints import kind
from synthc.runtime.prompting.rows import Planned

__all__ = ["Candidate", "Parsed", "parse_completion", "TOKEN_CAP"]

_QUOTES = "\"'“”‘’`"
TOKEN_CAP = "token_cap"  # the drop reason of a row its generation's token cap cut short


@dataclass(slots=True)
class Candidate:
    key: str  # row key, plus "#n" for the n-th piece of a split completion
    text: str
    label: str | None
    fields: dict[str, Any]  # the other output fields
    provenance: dict[str, Any]
    row: Planned  # the planned row it came from: its seed row, persona and RNG seed, typed
    scores: dict[str, float] = field(default_factory=dict)
    dropped: str | None = None  # the reason key of the filter that removed it (`oracle`, `near_copy`, …)
    detail: str = ""  # what that filter saw ("0.212 < 0.348 for World", the shared span, …)

    def drop(self, reason: str, detail: str = "") -> None:
        self.dropped, self.detail = reason, detail


@dataclass(slots=True)
class Parsed:
    """What one completion gives: its kept pieces (field dicts, in order), how many pieces it had
    (a dropped one is always the last), and why a piece or the whole completion was dropped."""

    pieces: list[dict[str, Any]]
    total: int  # pieces before any was dropped: row keys number them (`key#n`) whatever is dropped
    reason: str | None = None  # the drop reason key (`empty`, `refusal`, `invalid json`, `invalid template`, `token_cap`)
    detail: str = ""  # what the reason saw (the refusal phrase, the cap)
    cut: bool = False  # a piece the token cap cut short was kept (`truncated = keep`, or cut back: `sentence`)


def parse_completion(text: str, output: ir.Output, parse: ir.Parse, cap: int | None = None) -> Parsed:
    """The rows of one completion. `cap`: the request's `max_tokens` when the generation stopped
    there (finish "length"), None when it ended by itself.

    A free-text completion the cap ended stops mid-sentence: its last piece (with `split`, the
    pieces before it are whole) is dropped as `token_cap`, kept when `truncated = keep`, or cut
    back to its last whole sentence when `truncated = sentence` (dropped if none ended in it). A JSON
    object the cap cut does not parse: `token_cap` rather than `invalid json`, the fix being
    `max_tokens`; a template answer the cap cut does not follow its template: `token_cap` too. A
    select or regex output is complete by construction.
    """
    for phrase in parse.reject:
        if phrase.lower() in text.lower():
            return Parsed([], 1, "refusal", phrase)
    read = kind(output.constraint_kind).read(output, text, cap)
    if read is not None:  # a constrained output: its kind parses it (runtime/backends/constraints/)
        if read.fields is not None:
            return Parsed([read.fields], 1)
        if read.reason == "empty":
            return Parsed([], 1, "empty", _EMPTY)
        return Parsed([], 1, TOKEN_CAP, _stopped_at(cap)) if cap is not None else Parsed([], 1, read.reason, read.detail)
    pieces = [text]
    if parse.prefix:
        if parse.split:
            pieces = text.split(parse.prefix)
        elif text.lstrip().startswith(parse.prefix):
            pieces = [text.lstrip()[len(parse.prefix):]]
    out = []
    for p in pieces:
        p = p.strip()
        if parse.strip_quotes:
            p = _strip_quotes(p)
        if p:
            out.append({output.text_field: p})
    if not out:
        return Parsed([], 1, "empty", _EMPTY)
    if cap is None:
        return Parsed(out, len(out))
    if parse.truncated == "keep":
        return Parsed(out, len(out), cut=True)
    if parse.truncated == "sentence":
        whole = last_sentence_end(out[-1][output.text_field])
        if whole:
            return Parsed(out[:-1] + [{output.text_field: whole}], len(out), cut=True)
    return Parsed(out[:-1], len(out), TOKEN_CAP, _stopped_at(cap))


# A sentence ends at . ! ? (or …), possibly followed by closing quotes or brackets, at the end of
# the text or before a space and what can start a sentence (not a lower-case word: "Co. Ltd. has").
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=$|\s+[^a-z\s])")
# A period after one of these, or after an initial ("J.", "J.C", "U.S"), is not a sentence's end:
# cut back there, "Japan's Nintendo Co. Ltd. has announced a console ... as well as" kept
# "Japan's Nintendo Co. Ltd." (AG News, RETRICL_3_completion).
_ABBREVIATIONS = frozenset(
    "co corp inc ltd plc llc bros mr mrs ms dr prof st jr sr gen sen rep gov lt col capt sgt mt ft "
    "jan feb mar apr aug sep sept oct nov dec no vs approx dept est".split())
_INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")


def _ends_a_sentence(text: str, end: re.Match[str]) -> bool:
    if not end.group().startswith("."):
        return True
    word = re.search(r"[\w.&'-]*$", text[: end.start()]).group()  # type: ignore[union-attr]
    word = word.lstrip("'&-")
    return not (word.lower() in _ABBREVIATIONS or _INITIALS.fullmatch(word))


def last_sentence_end(text: str) -> str | None:
    """`text` up to the end of its last whole sentence (`truncated = sentence`), or None when no
    sentence ended in it.

    >>> last_sentence_end("A quiet film. It moves to the coast and")
    'A quiet film.'
    >>> last_sentence_end('He said "go!" to the coast and') is None
    True
    >>> last_sentence_end("Nintendo Co. Ltd. has announced a console for J.C. Penney and")
    >>> last_sentence_end("Sales rose 4%. Nintendo Co. Ltd. Rivals fell. Sony said that")
    'Sales rose 4%. Nintendo Co. Ltd. Rivals fell.'
    >>> last_sentence_end("no sentence ends here") is None
    True
    """
    for end in reversed(list(_SENTENCE_END.finditer(text))):
        if _ends_a_sentence(text, end):
            return text[: end.end()].rstrip()
    return None


_EMPTY = "no text left after the prefix, split and quotes"


def _stopped_at(cap: int | None) -> str:
    return f"stopped at max_tokens = {cap}"


def _strip_quotes(text: str) -> str:
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text
