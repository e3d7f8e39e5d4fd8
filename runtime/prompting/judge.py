"""The LLM judge's side of a build (the `judge` filter kind, compiler/filters/judge.py): the
request that asks a model for one row's score, and the scores written back onto the rows.

The judge node's rows are the parsed candidates; the scheduler runs them as a generation job
(runtime/engine/groups.py) on the judge's model, so they are batched, dispatched and cached per row by
request key like any generation. The answer is a `select` over the scale's values, decoded
greedily: it is always one of them.
"""

from __future__ import annotations

from collections import Counter
from synthc.compiler import ir
from synthc.runtime.backends.base import Constraint, Request
from synthc.runtime.engine.groups import Generation
from synthc.runtime.prompting.postprocess import Candidate
from synthc.runtime.prompting.rows import Planned, row_seed

__all__ = ["judge_rows", "judge_request", "record_scores", "score_of", "distribution", "ANSWER_TOKENS"]

ANSWER_TOKENS = 4  # "10" is at most 2 tokens in any tokenizer; room for the end-of-turn token


def judge_rows(v: ir.Variant, candidates: list[Candidate]) -> list[Planned]:
    """One judge row per candidate still kept after parsing, keyed by the candidate's key."""
    return [Planned(key=c.key, label=c.label, seed_value=row_seed("judge", v.id, c.key))
            for c in candidates if c.dropped is None]


def judge_request(j: ir.Judge, v: ir.Variant, program: ir.Program, c: Candidate, seed: int) -> tuple[Request, str]:
    """The request scoring candidate `c` (and its user message). The system message (rubric and
    scale) is the same for every row of the node: the shared KV-cache prefix."""
    model = program.model(j.model)
    lo, hi = j.scale
    system = (f"You judge synthetic training data.\n{j.rubric.strip()}\n"
              f"Score the text from {lo} (worst) to {hi} (best). Answer with the score only.")
    label = ""
    if c.label is not None and v.labels:
        verbal = {lb.name: lb.verbalization for lb in program.label_set(v.labels).labels}.get(c.label, c.label)
        label = f"Intended label: {c.label}" + (f" ({verbal})" if verbal != c.label else "") + "\n"
    user = f"{label}Text: {c.text}\n\nScore ({lo}-{hi}):"
    if model.mode == "chat":
        messages: tuple[tuple[str, str], ...] = (("system", system), ("user", user))
        shared = 1
    else:
        messages, shared = (("text", f"{system}\n\n{user}"),), 0
    options = tuple(str(s) for s in range(lo, hi + 1))
    req = Request(messages=messages, mode=model.mode, constraint=Constraint("select", options=options),
                  max_tokens=ANSWER_TOKENS, temperature=0.0, top_p=1.0, stop=(), seed=seed, shared=shared)
    return req, user


def score_of(j: ir.Judge, text: str) -> int | None:
    """The answer as a score on the scale; None for anything else (a server's malformed answer)."""
    try:
        score = int(text.strip())
    except ValueError:
        return None
    return score if j.scale[0] <= score <= j.scale[1] else None


def record_scores(j: ir.Judge, candidates: list[Candidate], judged: list[Generation]) -> dict[str, Counter[int]]:
    """Write each judged row's score (`scores.judge`) and where it came from (`provenance.judge`:
    the judge model and the score's cache key); returns the score distribution per label."""
    by_key = {g.row.key: g for g in judged}
    dist: dict[str, Counter[int]] = {}
    for c in candidates:
        g = by_key.get(c.key)
        if g is None or c.dropped is not None:
            continue
        score = score_of(j, g.completion.text) if g.completion.finish != "error" else None
        c.provenance["judge"] = {"model": j.model, "score": score, "key": g.key}
        if score is None:  # kept by the filter and counted as judge.unknown
            continue
        c.scores["judge"] = float(score)
        dist.setdefault(c.label or "", Counter())[score] += 1
    return dist


DEGENERATE_ROWS = 8  # fewer scored rows than this can share a score by chance


def degenerate(j: ir.Judge, variant: str, dist: dict[str, Counter[int]]) -> str | None:
    """A warning when the judge gave every row one score (at least DEGENERATE_ROWS rows): it tells
    no row from another, so `keep` keeps all or nothing. SmolLM2-135M answers 1 to every row on any
    rubric (bench/judge.py); a user should learn that from the build, not from an empty dataset."""
    total: Counter[int] = sum(dist.values(), Counter())
    n = sum(total.values())
    if n < DEGENERATE_ROWS or len(total) != 1:
        return None
    (score,) = total
    return (f"warning: the judge `{j.model}` gave all {n} rows of `{variant}` the score {score}: it does not tell "
            f"rows apart, so `keep = \"{j.keep_op} {j.keep_score}\"` {'keeps' if j.keeps(score) else 'drops'} every row; "
            "give `judge` a larger model (docs/language.md, *Which judge model*)")


def distribution(dist: dict[str, Counter[int]]) -> dict[str, dict[str, int]]:
    """Plain JSON for the manifest: label -> score -> rows, both sorted."""
    return {label: {str(s): n for s, n in sorted(c.items())} for label, c in sorted(dist.items())}
