"""Output steps and writers: dataset records, the export step, its manifest and dataset card,
and synth.lock. Plain functions over the build's Context; every file is written atomically."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from typing import Any

from synthc.compiler import ir
from synthc.compiler.plan import Plan
from synthc.compiler.source import NO_SPAN
from synthc.runtime import lock as lockfile
from synthc.runtime.errors import fail
from synthc.runtime.postprocess import Candidate
from synthc.runtime.scope import pairs_scope, render
from synthc.runtime.steps import Context, Inputs
from synthc.runtime.writers import MANIFEST_SCHEMA_VERSION, dataset_card, encode_rows, write_atomic

__all__ = ["record", "final_rows", "export", "check_writable", "write_manifest", "write_lock"]


def record(v: ir.Variant, c: Candidate, program: ir.Program) -> dict[str, Any]:
    """One dataset row as written: text/label (or query/positive/negatives for pairs), the other
    output fields, and its provenance."""
    rec: dict[str, Any] = {"id": f"{v.task}.{v.name}.{c.key}", "variant": v.name}
    if v.kind == "qa_pairs" and v.pairs is not None:
        s = pairs_scope(v, program, {v.output.text_field: c.text, **c.fields}, c.row)
        rec["query"] = render(v.pairs.query, s)
        rec["positive"] = render(v.pairs.positive, s)
        rec["negatives"] = c.fields.get("negatives", [])
    else:
        rec["text"] = c.text
        if c.label is not None:
            rec["label"] = c.label
    for k, val in c.fields.items():
        if k != "negatives":
            rec.setdefault(k, val)
    rec["provenance"] = dict(c.provenance)
    return rec


def final_rows(inputs: Inputs) -> dict[str, list[Candidate]]:
    """Variant id -> its final (filtered, negatives-mined) rows, from the `final` inputs."""
    return {step.target.id: rows for step, rows in inputs.each("final")}


def check_writable(plan: Plan, nodes: list[str]) -> None:
    """E505 before anything runs when an export's directory cannot be written."""
    for node in nodes:
        step = plan.step(node)
        if step.kind != "export":
            continue
        e: ir.Export = step.target
        directory = os.path.dirname(os.path.abspath(os.path.join(plan.program.root, e.path))) or "."
        try:
            os.makedirs(directory, exist_ok=True)
            probe = os.path.join(directory, ".synthc-write-probe")
            with open(probe, "w") as fh:
                fh.write("")
            os.unlink(probe)
        except OSError as exc:
            raise fail("E505", f"cannot write to {directory}: {exc.strerror}", e.origin, "export declared here",
                       help="choose a writable `path`") from None


def export(ctx: Context, e: ir.Export, inputs: Inputs, node: str) -> list[str]:
    task = ctx.program.task(e.task)
    variants = [v for v in task.variants if v.name in e.variants]
    finals = final_rows(inputs)
    files: dict[str, list[dict[str, Any]]] = {}
    for v in variants:
        path = e.path.replace("{variant}", v.name)
        files.setdefault(path, []).extend(record(v, c, ctx.program) for c in finals[v.id])
    if e.format == "hf":
        return _export_hf(ctx, e, variants, finals, node)
    written = []
    hashes = {}
    try:
        for path, rows in files.items():
            data = encode_rows(rows, e.format)
            write_atomic(os.path.join(ctx.root, path), data)
            hashes[os.path.basename(path)] = hashlib.sha256(data).hexdigest()
            written.append(path)
        write_manifest(ctx, e, variants, written, hashes)
    except OSError as exc:
        raise fail("E505", f"cannot write {e.path}: {exc.strerror}", e.origin, "export declared here") from None
    ctx.note(node, f"wrote {', '.join(written)}")
    return written


def _export_hf(ctx: Context, e: ir.Export, variants: list[ir.Variant], finals: dict[str, list[Candidate]],
               node: str) -> list[str]:
    """A Hugging Face dataset folder: one Parquet shard per variant (a configuration each) + card."""
    from synthc.runtime.hf import hf_export

    task = ctx.program.task(e.task)
    labels = ctx.program.label_set(variants[0].labels).names if variants and variants[0].labels else None
    configs = {v.name: [record(v, c, ctx.program) for c in finals[v.id]] for v in variants}
    shards, meta = hf_export(configs, labels, e.origin)
    folder = os.path.join(ctx.root, e.path)
    try:
        for rel, data in shards.items():
            write_atomic(os.path.join(folder, rel), data)
        hashes = {rel: hashlib.sha256(data).hexdigest() for rel, data in shards.items()}
        categories = ["text-classification"] if task.kind == "classification" else ["sentence-similarity", "text-retrieval"]
        header = {"license": "other", "task_categories": categories, "tags": ["synthetic", "synthc"], **meta}
        write_manifest(ctx, e, variants, [os.path.join(e.path, rel) for rel in shards], hashes,
                       directory=folder, header=header)
    except OSError as exc:
        raise fail("E505", f"cannot write {e.path}: {exc.strerror}", e.origin, "export declared here") from None
    ctx.note(node, f"wrote {e.path} (Hugging Face dataset, {len(shards)} configuration(s))")
    return [os.path.join(e.path, rel) for rel in shards]


def write_manifest(ctx: Context, e: ir.Export, variants: list[ir.Variant], files: list[str],
                   hashes: dict[str, str], directory: str | None = None, header: dict[str, Any] | None = None) -> None:
    """manifest.json and the dataset card beside the files (in `directory` when given); `header`:
    the card's YAML header (a Hugging Face dataset folder's configs and dataset_info)."""
    directory = directory or (os.path.dirname(os.path.join(ctx.root, files[0])) if files else ctx.root)
    model = ctx.models.info.get(variants[0].model, {}) if variants else {}
    counts = {v.name: ctx.counts.get(v.id, {}) for v in variants}
    stats: Counter[str] = Counter()
    for v in variants:
        stats.update(ctx.variant_stats.get(v.id, Counter()))
    manifest = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "export": e.name, "task": e.task, "format": e.format,
        "files": {k: {"sha256": v} for k, v in sorted(hashes.items())},
        "counts": {name: {"total": sum(c.values()), "per_label": dict(sorted(c.items()))} for name, c in counts.items()},
        "dropped": {v.name: dict(sorted(ctx.dropped.get(v.id, Counter()).items())) for v in variants},
        "cut": {v.name: dict(sorted(ctx.cut.get(v.id, Counter()).items())) for v in variants},
        "stops": {v.name: ctx.stops[v.id] for v in variants if v.id in ctx.stops},
        "groups": {v.name: ctx.groups[v.id] for v in variants if v.id in ctx.groups},
        "retrieval": {n: ctx.retrieval[n] for n in sorted({v.retrieve.retriever for v in variants if v.retrieve})
                      if n in ctx.retrieval},
        "tokens": {"generated": stats["tokens"], "prompt": stats["prompt_tokens"],
                   "prompt_evaluated": stats["evaluated_tokens"]},
        "generations": {"new": stats["generated"], "cached": stats["cached"]},
        "timings_s": dict(sorted(ctx.timings.items())),
        "model": model, "versions": lockfile.versions(),
    }
    write_atomic(os.path.join(directory, "manifest.json"), (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    description = (f"Synthetic `{ctx.program.task(e.task).kind}` data from task `{e.task}` "
                   f"(variants: {', '.join(v.name for v in variants)}).")
    card = dataset_card(e.name, os.path.basename(ctx.root) or ".", files, counts, model, hashes, description,
                        header=header, kind=ctx.program.task(e.task).kind)
    write_atomic(os.path.join(directory, "README.md"), card.encode())


def write_lock(ctx: Context, locked: bool, any_export: bool) -> None:
    """synth.lock after a build that exported (E507 first when `--locked` and inputs drifted)."""
    new = lockfile.lock_data(ctx.models.info, ctx.data_hashes)
    old = lockfile.read_lock(ctx.root)
    from synthc.runtime.endpoints import locked_notes

    remote = locked_notes(ctx.models.info) if locked else []  # a served model's bytes are out of reach
    for note in remote:
        ctx.events.emit("step", node="lock", note=note)
    if locked and old is not None:
        diff = lockfile.diff_lock(old, new)
        if diff:
            raise fail("E507", "inputs differ from synth.lock", NO_SPAN, "",
                       notes=tuple(diff + remote), help="rebuild without --locked to accept the new inputs")
    if not any_export or ctx.models.kind == "fake":  # a fake build says nothing about real inputs
        return
    write_atomic(os.path.join(ctx.root, lockfile.LOCK_NAME), (json.dumps(new, indent=2, sort_keys=True) + "\n").encode())
