"""Data steps: load a source or corpus, sample seeds, derive personas, train the label oracle."""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

from synthc.compiler import ir
from synthc.runtime.store import memo
from synthc.runtime.io.data import Record, load_source, read_records, sample_rows
from synthc.runtime.errors import fail
from synthc.runtime.filters.oracle import Oracle
from synthc.runtime.retrieval.corpora import load_corpus
from synthc.runtime.steps import Context, Inputs

__all__ = ["load", "sample", "persona", "oracle"]


def load(ctx: Context, target: ir.Source | ir.Corpus, inputs: Inputs, node: str) -> Any:
    """A source's rows, or a corpus's (documents, content digest)."""
    if isinstance(target, ir.Source):
        rows = load_source(target, ctx.root)  # its hash for the lock was taken while planning
        ctx.note(node, f"{len(rows)} rows")
        _undeclared_labels(ctx, target, rows)
        return rows
    counter, truncate, tokenizer = _token_fns(ctx, target)
    tally: Counter[str] = Counter()
    docs, digest = memo.corpus(ctx.cache, target, ctx.root, tokenizer,
                               lambda: load_corpus(target, ctx.root, counter, truncate, tally), tally)
    bound = f"{target.min_tokens}..{target.max_tokens} tokens"
    if tally["read"]:  # never silent about a bound that drops documents (a short-text corpus)
        ctx.note(node, f"{len(docs)} of {tally['read']} documents within {bound}: {tally['short']} shorter "
                       f"than {target.min_tokens} tokens dropped, {tally['truncated']} truncated")
    else:
        ctx.note(node, f"{len(docs)} documents within {bound}")
    return docs, digest


def _undeclared_labels(ctx: Context, src: ir.Source, rows: list[Record]) -> None:
    """E526 (a warning) for each label the data carries that a label set seeded from it does not
    declare: those rows are never used as seeds, and silence would hide a typo or a missing label."""
    program = ctx.program
    sets = sorted({v.labels for v in program.variants() if v.seeds == src.name and v.labels})
    counts = Counter(r.label for r in rows if r.label is not None)
    for name in sets:
        declared = set(program.label_set(name).names)
        for label, n in sorted(counts.items()):
            if label not in declared:
                ctx.warn("E526", f"{n} row(s) of `{src.name}` have label `{label}`, which label set `{name}` "
                         "does not declare; they are not used", src.origin, "source declared here",
                         help=f"declare `{label}` in `labels {name}`, or leave it out on purpose "
                              "(this warning then says how many rows that skips)")


def _token_fns(ctx: Context, corpus: ir.Corpus) -> tuple[Callable[[str], int], Callable[[str, int], str], str]:
    """Token counts use the generating model's tokenizer (of the first task reading the corpus);
    the third value names that tokenizer (for the corpus memo's key)."""
    program = ctx.program
    users = [v for v in program.variants() if v.retrieve is not None
             and program.retriever(v.retrieve.retriever).corpus == corpus.name]
    if users:
        be = ctx.models.get(users[0].model)
        return be.count_tokens, be.truncate, be.fingerprint()
    return (lambda t: len(t.split())), (lambda t, n: " ".join(t.split()[:n])), "words"


def sample(ctx: Context, src: ir.Source, inputs: Inputs, node: str) -> list[Record]:
    assert src.sample is not None
    rows: list[Record] = inputs.one("rows")
    labels = next((ctx.program.label_set(v.labels).names for v in ctx.program.variants()
                   if v.seeds == src.name and v.labels), None)
    out = sample_rows(rows, src.sample, labels, src.origin)
    ctx.note(node, f"{len(out)} seed rows")
    return out


def persona(ctx: Context, p: ir.Persona, inputs: Inputs, node: str) -> dict[str, dict[str, Any]]:
    """Per row: fields derived from the same user's rows strictly before this row's time."""
    src = ctx.program.source(p.source)
    records = _raw_records(ctx, src)
    by_user: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        by_user.setdefault(str(rec.get(p.user)), []).append(rec)
    for recs in by_user.values():
        recs.sort(key=lambda r: str(r.get(p.time, "")))
    out: dict[str, dict[str, Any]] = {}
    for rec in records:
        earlier = [r for r in by_user[str(rec.get(p.user))] if str(r.get(p.time, "")) < str(rec.get(p.time, ""))]
        fields: dict[str, Any] = {"user": rec.get(p.user)}
        for d in p.derived:
            fields[d.name] = _derive(d, rec, earlier)
        out[str(rec.get(src.id))] = fields
    ctx.note(node, f"personas for {len(out)} rows")
    return out


def _raw_records(ctx: Context, src: ir.Source) -> list[dict[str, Any]]:
    # The raw table, not the loaded rows: derivations read columns the source does not map.
    return read_records(src, ctx.root)


def _derive(d: ir.Derived, rec: dict[str, Any], earlier: list[dict[str, Any]]) -> Any:
    if d.fn == "history_count":
        return len(earlier)
    if d.fn == "value":
        return rec.get(d.column or "")
    counts: Counter[str] = Counter()
    last_seen: dict[str, int] = {}
    for i, r in enumerate(earlier):
        vals = r.get(d.column or "")
        for val in vals if isinstance(vals, list) else [vals]:
            if val is not None:
                counts[str(val)] += 1
                last_seen[str(val)] = i
    # Most frequent first; ties go to the more recent value, then alphabetical.
    ranked = sorted(counts, key=lambda t: (-counts[t], -last_seen[t], t))
    return ranked[: d.k] if ranked else list(d.fallback[: d.k])


def oracle(ctx: Context, src: ir.Source, inputs: Inputs, node: str) -> Oracle:
    rows: list[Record] = inputs.one("rows")
    labelled = [r for r in rows if r.label is not None]
    classes = sorted({str(r.label) for r in labelled})
    if len(classes) < 2:  # scikit-learn would raise ValueError
        raise fail("E509", f"the label oracle trained on `{src.name}` needs rows of at least two labels; it has "
                   f"{len(labelled)} labelled row(s){' of label ' + classes[0] if classes else ''}", src.origin,
                   "source declared here", help="train the oracle on a labelled source with every label")
    trained = Oracle([r.text for r in labelled], [str(r.label) for r in labelled])
    ctx.note(node, f"trained on {len(labelled)} rows, classes {', '.join(trained.classes)}")
    return trained

