"""The filters of a variant, in order, over its candidate rows.

Order matters and is fixed (each kind's `order`, compiler/filters/): cheap per-row checks first
(length, label subset, echo of a label's verbalization, near-copy of seed/source text, fluency),
the judge's recorded scores, then duplicates, then the label oracle
(so its per-label floor counts only rows that survived everything else), then cartography. Each
dropped row gets a stable reason key and a detail (Candidate.drop)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from synthc.compiler import ir
from synthc.compiler.filters import in_order
from synthc.runtime.filters.cartography import cartography
from synthc.runtime.filters.dedupe import dedupe
from synthc.runtime.filters.oracle import Oracle
from synthc.runtime.filters.shingles import ShingleIndex
from synthc.runtime.prompting.postprocess import Candidate
from synthc.runtime.prompting.prompts import ValueEcho, find_value_echo

__all__ = ["Texts", "FilterInputs", "apply_filters", "by_label", "HOOKS", "UNKNOWN_LOGPROB", "UNKNOWN_JUDGE"]

UNKNOWN_LOGPROB = "fluency.unknown"  # rows kept because their backend reported no log-probability
UNKNOWN_JUDGE = "judge.unknown"  # rows kept because the judge has not scored them


@dataclass(frozen=True, slots=True)
class Texts:
    """A named collection of texts rows must not copy (`near_copy.of`)."""

    name: str
    ids: tuple[str, ...]
    texts: tuple[str, ...]


@dataclass(slots=True)
class FilterInputs:
    oracle: Oracle | None = None
    copy_of: tuple[Texts, ...] = ()
    echo: ValueEcho | None = None
    prompt: Callable[[Candidate], ShingleIndex] | None = None  # the row's rendered instruction (prompts.prompt_echo)
    unscored: Counter[str] = field(default_factory=Counter)  # kept without a score: reason -> rows


def apply_filters(rows: list[Candidate], f: ir.Filter, inputs: FilterInputs | None = None) -> list[Candidate]:
    """Mark dropped rows (reason key + detail) and return the kept ones, in input order: each
    registered kind in its place (compiler/filters/), through its hook, over the rows still kept."""
    inputs = inputs or FilterInputs()
    live = _live(rows)
    for kind in in_order():
        value = kind.value(f)
        if kind.ir_field is not None and value is None:  # not used by this variant
            continue
        HOOKS[kind.name](live, value, f, inputs)
        live = _live(live)
    return live


def _live(rows: list[Candidate]) -> list[Candidate]:
    return [r for r in rows if r.dropped is None]


def _words(rows: list[Candidate], words: tuple[int, int], f: ir.Filter, inputs: FilterInputs) -> None:
    for r in rows:
        n = len(r.text.split())
        if not words[0] <= n <= words[1]:
            r.drop("words", f"{n} words outside {words[0]}..{words[1]}")


def _chars(rows: list[Candidate], chars: tuple[int, int], f: ir.Filter, inputs: FilterInputs) -> None:
    for r in rows:
        if not chars[0] <= len(r.text) <= chars[1]:
            r.drop("chars", f"{len(r.text)} characters outside {chars[0]}..{chars[1]}")


def _labels(rows: list[Candidate], labels: tuple[str, ...], f: ir.Filter, inputs: FilterInputs) -> None:
    for r in rows:
        if r.label not in labels:
            r.drop("labels", f"label {r.label} not kept")


def _echo(rows: list[Candidate], _: None, f: ir.Filter, inputs: FilterInputs) -> None:
    for r in rows:
        if inputs.echo is not None and (hit := find_value_echo(r.text, inputs.echo)):
            r.drop("echo.label", f"repeats {hit[1]!r} of {hit[0]!r}")
        elif inputs.prompt is not None and (span := inputs.prompt(r).find(r.text)):
            r.drop("echo.template", f"repeats {span.span!r} of its prompt")


def _dedupe(rows: list[Candidate], how: str, f: ir.Filter, inputs: FilterInputs) -> None:
    dedupe(rows, how, f.near_threshold)


def _cartography(rows: list[Candidate], c: ir.Cartography, f: ir.Filter, inputs: FilterInputs) -> None:
    cartography(rows, c)


def _near_copy(rows: list[Candidate], nc: ir.NearCopy, f: ir.Filter, inputs: FilterInputs) -> None:
    sources = inputs.copy_of
    indexes = [(s, ShingleIndex.build(s.texts, nc.ngram)) for s in sources]
    for r in rows:
        for s, index in indexes:
            hit = index.find(r.text)
            if hit is not None:
                r.drop("near_copy", f"shares {nc.ngram} words with {s.name}:{s.ids[hit.doc]}: {hit.span!r}")
                break


def _fluency(rows: list[Candidate], fl: ir.Fluency, f: ir.Filter, inputs: FilterInputs) -> None:
    unscored = inputs.unscored
    for r in rows:
        lp = r.provenance.get("logprob")
        if lp is None:  # the backend gave none (the fake; a server without logprobs): kept, counted
            unscored[UNKNOWN_LOGPROB] += 1
            continue
        r.scores["logprob"] = round(float(lp), 6)
        if lp < fl.min_logprob:
            r.drop("fluency", f"mean token log-prob {lp:.3f} < {fl.min_logprob}")


def _oracle(rows: list[Candidate], o: ir.Oracle, f: ir.Filter, inputs: FilterInputs) -> None:
    oracle = inputs.oracle
    if oracle is None:  # a candidate list filtered outside a plan (tests): nothing to score with
        return
    scores = oracle.score([r.text for r in rows], [r.label for r in rows])
    cutoff = oracle.cutoff(o.keep, o.calibrate)
    for r, s in zip(rows, scores):
        r.scores["oracle"] = round(s.prob, 6)
        if s.heldout:
            r.scores["oracle_heldout"] = 1.0  # it copies a training row: scored by the fold that held it out
        r.scores["oracle_threshold"] = round(cutoff(r.label), 6)
    if not o.drop:
        return
    for label in sorted({r.label or "" for r in rows}):
        members = [r for r in rows if (r.label or "") == label]
        below = [r for r in members if r.scores["oracle"] < r.scores["oracle_threshold"]]
        # Never empty a label, never keep fewer than min_kept of it: the best-scoring rows stay.
        floor = min(len(members), max(1, math.ceil(o.min_kept * len(members))))
        spare = max(0, floor - (len(members) - len(below)))
        rescued = sorted(below, key=lambda r: (-r.scores["oracle"], r.key))[:spare]
        for r in rescued:
            r.scores["oracle_floor"] = 1.0
        keep = {id(r) for r in rescued}
        for r in below:
            if id(r) not in keep:
                r.drop("oracle", f"p({label}) {r.scores['oracle']:.3f} < {r.scores['oracle_threshold']:.3f}")


def _judge(rows: list[Candidate], j: ir.Judge, f: ir.Filter, inputs: FilterInputs) -> None:
    """The scores are the judge node's (runtime/prompting/judge.py); a row it did not score (a quota round's
    count, which runs before the judge) is kept and counted."""
    for r in rows:
        score = r.scores.get("judge")
        if score is None:
            inputs.unscored[UNKNOWN_JUDGE] += 1
        elif not j.keeps(int(score)):
            r.drop("judge", f"judge score {int(score)} fails {j.keep_op} {j.keep_score}")


Hook = Callable[[list[Candidate], Any, ir.Filter, FilterInputs], None]
# Each filter kind's runtime hook, by kind name (the kinds themselves: compiler/filters/).
HOOKS: dict[str, Hook] = {
    "words": _words, "chars": _chars, "labels": _labels, "echo": _echo, "near_copy": _near_copy,
    "fluency": _fluency, "judge": _judge, "dedupe": _dedupe, "label_oracle": _oracle, "cartography": _cartography,
}


def by_label(rows: list[Candidate]) -> dict[str, Counter[str]]:
    """Dropped rows per intended label and reason."""
    out: dict[str, Counter[str]] = {}
    for r in rows:
        if r.dropped:
            out.setdefault(r.label or "", Counter())[r.dropped] += 1
    return out
