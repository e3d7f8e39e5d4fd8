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
        s = pairs_scope(v, program, {v.output.text_field: c.text, **c.fields}, c.row.seed, c.row.persona)
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


def write_manifest(ctx: Context, e: ir.Export, variants: list[ir.Variant], files: list[str],
                   hashes: dict[str, str]) -> None:
    directory = os.path.dirname(os.path.join(ctx.root, files[0])) if files else ctx.root
    model = ctx.models.info.get(variants[0].model, {}) if variants else {}
    counts = {v.name: ctx.counts.get(v.id, {}) for v in variants}
    stats: Counter[str] = Counter()
    for v in variants:
        stats.update(ctx.variant_stats.get(v.id, Counter()))
    manifest = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "export": e.name, "task": e.task, "format": e.format,
        "files": {os.path.basename(f): {"sha256": hashes[os.path.basename(f)]} for f in files},
        "counts": {name: {"total": sum(c.values()), "per_label": dict(sorted(c.items()))} for name, c in counts.items()},
        "dropped": {v.name: dict(sorted(ctx.dropped.get(v.id, Counter()).items())) for v in variants},
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
    card = dataset_card(e.name, os.path.basename(ctx.root) or ".", files, counts, model, hashes, description)
    write_atomic(os.path.join(directory, "README.md"), card.encode())


def write_lock(ctx: Context, locked: bool, any_export: bool) -> None:
    """synth.lock after a build that exported (E507 first when `--locked` and inputs drifted)."""
    new = lockfile.lock_data(ctx.models.info, ctx.data_hashes)
    old = lockfile.read_lock(ctx.root)
    if locked and old is not None:
        diff = lockfile.diff_lock(old, new)
        if diff:
            raise fail("E507", "inputs differ from synth.lock", NO_SPAN, "",
                       notes=tuple(diff), help="rebuild without --locked to accept the new inputs")
    if not any_export or ctx.models.kind == "fake":  # a fake build says nothing about real inputs
        return
    write_atomic(os.path.join(ctx.root, lockfile.LOCK_NAME), (json.dumps(new, indent=2, sort_keys=True) + "\n").encode())
