"""The evaluate step: the named variants' rows and the real/train data handed to `run_eval()`
(runtime/eval/), kept as is when nothing it depends on changed.

Its cache key covers the rows, the real and train data, every setting of the `evaluate` block and
the evaluation code itself (runtime/eval/ and its measures), so editing the block (or upgrading synthc's evaluation) reruns the
evaluation alone, on cached generations: no `--force`, which would also discard the generations.
`synthc eval recipe.synth` re-runs it explicitly."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import random
from typing import Any

from synthc.compiler import ir
from synthc.runtime.io.data import Record
from synthc.runtime.errors import RunFailed, fail
from synthc.runtime.prompting.rows import Planned
from synthc.runtime.prompting.scope import pairs_scope, render
from synthc.runtime.steps import Context, Inputs
from synthc.runtime.steps.outputs import final_rows, record
from synthc.runtime.store.keys import evaluation_key

__all__ = ["evaluate", "code_digest"]


def evaluate(ctx: Context, ev: ir.Evaluate, inputs: Inputs, node: str) -> dict[str, Any]:
    from synthc.runtime.eval import METRICS_SCHEMA_VERSION, Dataset, Options, dataset_from_records, run_eval
    from synthc.runtime.eval.embed import minilm_available

    def as_dataset(name: str, rows: list[Record]) -> Dataset:
        return Dataset(name, tuple(r.text for r in rows), tuple(r.label for r in rows))

    task = ctx.program.task(ev.task)
    finals = final_rows(inputs)
    chosen = [v for v in task.variants if v.name in ev.variants]
    records = {v.name: [record(v, c, ctx.program) for c in finals[v.id]] for v in chosen}
    real = as_dataset(ev.real, inputs.one("real"))
    train = as_dataset(ev.train, inputs.one("train")) if ev.train else None
    opts = Options.of(ev.metrics, ev)  # every setting by its name (compiler/metrics/)
    collection = inputs.one("collection") if ev.collection else None
    digest = evaluation_key(ev, METRICS_SCHEMA_VERSION, code_digest(), minilm_available(), records, real, train,
                            collection[1] if collection else None)
    directory = os.path.join(ctx.root, ev.path)
    previous = _read_json(os.path.join(directory, "metrics.json"))
    if (previous and previous.get("input_digest") == digest and not ctx.force
            and os.path.exists(os.path.join(directory, "report.html"))):
        ctx.note(node, "cached: rows and settings unchanged")
        return previous
    data = [dataclasses.replace(dataset_from_records(v.name, records[v.name]), filter_oracle=_filter_oracle(v))
            for v in chosen]
    log = lambda s: ctx.note(node, s)  # noqa: E731
    ir_job = None
    if "retrieval" in ev.metrics and ev.collection and task.variants[0].kind == "qa_pairs":
        ir_job = _ir_job(ctx, ev, inputs, records)
    res = run_eval(data, real, train, opts, directory, f"{ev.name}: {task.name} variants vs {ev.real}", ir=ir_job,
                   annotations={"input_digest": digest,
                                "evaluate": {"name": ev.name, "task": ev.task, "real": ev.real, "train": ev.train}},
                   origin=ev.origin, where="`path`", log=log)
    ctx.note(node, res.verdict)
    ctx.note(node, f"wrote {os.path.relpath(directory, ctx.root)}/report.html")
    return res.metrics


@functools.cache
def code_digest() -> str:
    """The evaluation code's own hash: a synthc whose evaluation changed re-evaluates cached data."""
    import synthc.runtime.eval as package

    folder = os.path.dirname(package.__file__)
    h = hashlib.sha256()
    # Every module of the package, its subpackages' too (runtime/eval/measures/: one per metric).
    for base, dirs, files in sorted(os.walk(folder)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            rel = os.path.relpath(os.path.join(base, name), folder)
            with open(os.path.join(base, name), "rb") as fh:
                h.update(rel.encode() + b"\0" + fh.read())
    return h.hexdigest()


def _filter_oracle(v: ir.Variant) -> str:
    """What the variant's label_oracle filter was trained on ("" when none filtered it)."""
    oracle = getattr(v.filter, "oracle", None)
    return f"label_oracle trained_on {oracle.trained_on}" if oracle is not None else ""


def _ir_job(ctx: Context, ev: ir.Evaluate, inputs: Inputs, records: dict[str, list[dict[str, Any]]]) -> Any:
    """Sy-SE-PQA's loop: one bi-encoder per training set — the real relevant answers of the same
    seed questions, and each variant's synthetic pairs — re-ranking BM25 on the real questions."""
    from synthc.runtime.eval import IRJob
    from synthc.runtime.eval.ir import IRSetup, Query

    docs, _ = inputs.one("collection")
    text = {d.id: d.text for d in docs}
    v0 = ctx.program.task(ev.task).variants[0]
    assert v0.pairs is not None and ev.relevant is not None
    query_template = v0.pairs.query

    def query(row: Record) -> str:
        try:
            return render(query_template, pairs_scope(v0, ctx.program, {}, Planned(key=row.id, label=None, seed=row, persona={})))
        except RunFailed:  # a template limit or sandbox refusal, already coded
            raise
        except Exception as err:  # jinja raises several types for an undefined name
            raise fail("E508", f"the pairs `query` template cannot be rendered for real question `{row.id}`: {err}",
                       query_template.origin, "query template",
                       help="retrieval evaluation renders the query from the real row alone (no output or persona)") from None

    real_rows: list[Record] = [r for r in inputs.one("real") if str(r.fields.get(ev.relevant)) in text]
    if ev.queries and len(real_rows) > ev.queries:
        real_rows = random.Random(42).sample(real_rows, ev.queries)
    queries = tuple(Query(r.id, query(r), str(r.fields[ev.relevant]), str(r.fields.get(ev.time or "", "")))
                    for r in real_rows)
    training = {name: [(r["query"], r["positive"]) for r in rows] for name, rows in records.items()}
    seeds = sorted({str(r["provenance"].get("seed_id")) for rows in records.values() for r in rows})
    gold = {r.id: r for r in inputs.one("train")} if ev.train else {}
    real_pairs = [(query(gold[s]), text[str(gold[s].fields.get(ev.relevant))]) for s in seeds
                  if s in gold and str(gold[s].fields.get(ev.relevant)) in text]
    if real_pairs:
        training = {"real answers": real_pairs} | training
    if len(queries) < 4:
        raise fail("E509", f"retrieval evaluation needs at least 4 real questions with a relevant document in "
                   f"`{ev.collection}`, found {len(queries)}", ev.origin, "evaluate declared here",
                   help=f"check `relevant = \"{ev.relevant}\"` names ids of the collection")
    setup = IRSetup(tuple(sorted(text.items())), queries, candidates=ev.candidates, epochs=ev.epochs)
    return IRJob(setup, training)


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            out = json.load(fh)
        return out if isinstance(out, dict) else None
    except (OSError, ValueError):
        return None
