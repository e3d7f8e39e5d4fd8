"""After generation: parse completions into candidate rows (the filters that follow live in
runtime/filters/).

Parse: split on the answer prefix, strip quotes, reject refusals (SynthesizRR §1.2 step 6)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from synthc.compiler import ir
from synthc.runtime.rows import Planned

__all__ = ["Candidate", "parse_completion"]

_QUOTES = "\"'“”‘’`"


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


def parse_completion(text: str, output: ir.Output, parse: ir.Parse) -> tuple[list[dict[str, Any]], str | None]:
    """Pieces (field dicts) of one completion, or ([], reason) when it is rejected."""
    for phrase in parse.reject:
        if phrase.lower() in text.lower():
            return [], f"refusal: {phrase}"
    if len(output.fields) == 1 and output.fields[0].type in ("label", "choice", "regex"):
        return ([{output.fields[0].name: text}], None) if text else ([], "empty")
    if output.structured:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            return [], "invalid json"
        if not isinstance(obj, dict):
            return [], "invalid json"
        return [obj], None
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
    return (out, None) if out else ([], "empty")


def _strip_quotes(text: str) -> str:
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text
