"""Output steps and writers: dataset records, the export step, its manifest and dataset card, the
recipe's lock and the run log. Plain functions over the build's Context. An export's files are
committed as one set and only over files it owns (runtime/io/outputs.py); everything that can refuse
(`preflight`) runs before the first node."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

from synthc.compiler import ir
from synthc.compiler.plan import Plan
from synthc.compiler.source import NO_SPAN, SourceMap
from synthc.runtime.store import lock as lockfile
from synthc.runtime.io import outputs
from synthc.runtime.backends.base import kv_bytes
from synthc.runtime.io.data import file_sha256
from synthc.runtime.errors import fail
from synthc.runtime.io.outputs import shown
from synthc.runtime.prompting.postprocess import Candidate
from synthc.runtime.prompting.judge import distribution
from synthc.runtime.prompting.scope import pairs_scope, render
from synthc.runtime.steps import Context, Inputs
from synthc.runtime.io.writers import MANIFEST_SCHEMA_VERSION, dataset_card, encode_rows, write_atomic

__all__ = ["record", "final_rows", "export", "check_writable", "preflight", "write_lock", "write_run_log",
           "export_targets"]


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


def export_targets(program: ir.Program, e: ir.Export) -> tuple[str, list[str]]:
    """An export's folder (where the manifest and card go) and every file it writes, absolute."""
    if e.format == "hf":  # `path` is the dataset folder; its shard names come with the data
        directory = os.path.abspath(os.path.join(program.root, e.path))
        return directory, [os.path.join(directory, outputs.CARD), os.path.join(directory, outputs.MANIFEST)]
    task = program.task(e.task)
    data = list(dict.fromkeys(os.path.abspath(os.path.join(program.root, e.path.replace("{variant}", v.name)))
                              for v in task.variants if v.name in e.variants))
    directory = os.path.dirname(data[0]) if data else os.path.abspath(program.root)
    return directory, data + [os.path.join(directory, outputs.CARD), os.path.join(directory, outputs.MANIFEST)]


def _owner(ctx: Context, e: ir.Export) -> outputs.Owner:
    return outputs.Owner(ctx.recipe, e.name)


def _build_inputs(ctx: Context, sources: SourceMap) -> frozenset[str]:
    """Files the build reads; no export may replace one."""
    p, root = ctx.program, ctx.root
    paths = [f.path for f in sources.files] + [os.path.join(root, x.path) for x in (*p.sources, *p.corpora)]
    paths += [os.path.join(root, m.gguf) for m in p.models if m.gguf_kind == "path"]
    paths.append(lockfile.lock_path(ctx.recipe))
    return frozenset(os.path.realpath(x) for x in paths)


def preflight(ctx: Context, nodes: list[str], sources: SourceMap, locked: bool) -> tuple[dict[str, Any], list[str]]:
    """Everything that can refuse, before a byte of output is written: finish a killed build's
    commit (and drop its temps), hash the inputs, compare them with the lock under --locked,
    check every export's targets for ownership and writability. Returns the new lock and notes."""
    exports: list[ir.Export] = [ctx.plan.step(n).target for n in nodes if ctx.plan.step(n).kind == "export"]
    folders = [export_targets(ctx.program, e)[0] for e in exports] + [os.path.dirname(ctx.recipe)]
    folders += [os.path.join(ctx.root, ev.path) for ev in ctx.program.evaluations]  # reports, written atomically too
    notes = outputs.recover(os.path.join(ctx.root, ".synthc"), folders)
    _lock_inputs(ctx, nodes)
    new_lock = _check_lock(ctx, locked)
    inputs = _build_inputs(ctx, sources)
    for e in exports:
        directory, targets = export_targets(ctx.program, e)
        outputs.check_targets(directory, targets, _owner(ctx, e), inputs, e.origin)
    for n in nodes:  # an evaluate block's report folder: the same rule (E524), before any output
        if ctx.plan.step(n).kind == "evaluate":
            from synthc.runtime.eval.run import check_report

            ev: ir.Evaluate = ctx.plan.step(n).target
            check_report(os.path.join(ctx.root, ev.path), ev.origin)
    check_writable(ctx.plan, nodes)
    return new_lock, notes


def export(ctx: Context, e: ir.Export, inputs: Inputs, node: str) -> list[str]:
    """Stage every file of the export (data, card, manifest), then switch them in as one set."""
    task = ctx.program.task(e.task)
    variants = [v for v in task.variants if v.name in e.variants]
    finals = final_rows(inputs)
    directory, targets = export_targets(ctx.program, e)
    header: dict[str, Any] | None = None
    if e.format == "hf":  # a Hugging Face dataset folder: one Parquet shard per variant (a configuration each)
        from synthc.runtime.io.hf import hf_export

        labels = ctx.program.label_set(variants[0].labels).names if variants and variants[0].labels else None
        configs = {v.name: [record(v, c, ctx.program) for c in finals[v.id]] for v in variants}
        shards, meta = hf_export(configs, labels, e.origin)
        data = {os.path.join(directory, rel): blob for rel, blob in shards.items()}
        rows = {os.path.join(directory, rel): len(configs[v]) for rel, v in zip(shards, configs)}
        categories = ["text-classification"] if task.kind == "classification" else ["sentence-similarity", "text-retrieval"]
        header = {"license": "other", "task_categories": categories, "tags": ["synthetic", "synthc"], **meta}
        targets = list(data) + targets
    else:
        files: dict[str, list[dict[str, Any]]] = {}
        for v in variants:
            path = os.path.abspath(os.path.join(ctx.root, e.path.replace("{variant}", v.name)))
            files.setdefault(path, []).extend(record(v, c, ctx.program) for c in finals[v.id])
        data = {path: encode_rows(recs, e.format) for path, recs in files.items()}
        rows = {path: len(recs) for path, recs in files.items()}
    previous = outputs.check_targets(directory, targets, _owner(ctx, e), frozenset(), e.origin)
    # One journal per recipe and export: recipes in one folder share its .synthc/.
    staged = outputs.ExportSet(os.path.join(ctx.root, ".synthc"), f"{os.path.basename(ctx.recipe)}.{e.name}")
    try:
        hashes = {_rel(path, directory): staged.add(path, blob) for path, blob in data.items()}
        counts = {_rel(path, directory): n for path, n in rows.items()}
        kept = [c for v in variants for c in finals[v.id]]
        manifest, card = _manifest(ctx, e, variants, hashes, counts, header, kept)
        staged.add(os.path.join(directory, outputs.CARD), card.encode())
        staged.add(os.path.join(directory, outputs.MANIFEST), (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
        staged.drop = _stale(directory, previous, hashes)
        staged.commit()
    except OSError as exc:
        staged.abandon()
        raise fail("E505", f"cannot write {shown(exc.filename or directory)}: {exc.strerror}", e.origin,
                   "export declared here", help="free disk space or choose a writable `path`; nothing was replaced") from None
    written = list(data)
    ctx.note(node, f"wrote {', '.join(shown(p) for p in written)}")
    return written


def _rel(path: str, directory: str) -> str:
    return os.path.relpath(path, directory).replace(os.sep, "/")


def _stale(directory: str, previous: dict[str, str | None], now: dict[str, str]) -> list[str]:
    """Data files this export wrote last time and no longer writes (a removed variant), unless edited since."""
    out = []
    for rel, sha in previous.items():
        path = os.path.join(directory, rel)
        if rel in now or rel in (outputs.CARD, outputs.MANIFEST) or sha is None or not os.path.isfile(path):
            continue
        if file_sha256(path) == sha:
            out.append(path)
    return out


def _public(info: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info.items() if not k.startswith("_")}


def _manifest(ctx: Context, e: ir.Export, variants: list[ir.Variant], hashes: dict[str, str],
              rows: dict[str, int], header: dict[str, Any] | None, kept: list[Candidate]) -> tuple[dict[str, Any], str]:
    """The manifest and the dataset card (`header`: a Hugging Face folder's YAML header). Both are
    promised byte-stable for the same inputs, so they hold facts of the data (counts, tokens of the
    kept rows, generation groups), never facts of one run (timings, cache hits): those go to the
    event log, the build summary and .synthc/last-build.json."""
    directory = export_targets(ctx.program, e)[0]
    model = _public(ctx.models.info.get(variants[0].model, {}) if variants else {})
    recorded = ctx.recorded(variants)
    counts = {v.name: s.kept or {} for v, s in recorded}
    manifest = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        **_owner(ctx, e).record(directory), "task": e.task, "format": e.format,
        "files": {name: {"sha256": sha, "rows": rows[name]} for name, sha in sorted(hashes.items())},
        "counts": {name: {"total": sum(c.values()), "per_label": dict(sorted(c.items()))} for name, c in counts.items()},
        "dropped": {v.name: dict(sorted(s.dropped.items())) for v, s in recorded},
        "dropped_by_label": {v.name: _by_label(s.dropped_by_label) for v, s in recorded},
        "kept_unscored": {v.name: dict(sorted(s.unscored.items())) for v, s in recorded if s.unscored is not None},
        "judge_scores": {v.name: distribution(s.judged) for v, s in recorded if s.judged is not None},
        "cut": {v.name: dict(sorted(s.cut.items())) for v, s in recorded},
        "stops": {v.name: s.stops.data() for v, s in recorded if s.stops is not None},
        "groups": {v.name: s.groups.data() for v, s in recorded if s.groups is not None},
        "quota": {v.name: {lb: q.data() for lb, q in s.quota.items()} for v, s in recorded if s.quota is not None},
        "efficiency": {v.name: s.efficiency.data() for v, s in recorded if s.efficiency is not None},
        "retrieval": {n: ctx.retrieval[n].data() for n in sorted({v.retrieve.retriever for v in variants if v.retrieve})
                      if n in ctx.retrieval},
        "tokens": {"completion": sum(c.provenance.get("tokens", {}).get("completion", 0) for c in kept),
                   "prompt": sum(c.provenance.get("tokens", {}).get("prompt", 0) for c in kept)},
        "model": model, "versions": lockfile.versions(),
        # What the rows cost: every request of each variant (kept, dropped or cut rows alike) summed over
        # its completions, new or cached; deterministic, unlike wall time (the ledger, .synthc/).
        "usage": {v.name: dict(sorted(s.usage.items())) for v, s in recorded},
    }
    trimmed = {v.name: s.history.data() for v, s in recorded if s.history is not None}
    if trimmed:  # only where a conversation outgrew the context (runtime/prompting/history.py)
        manifest["history"] = trimmed
    description = (f"Synthetic `{ctx.program.task(e.task).kind}` data from task `{e.task}` "
                   f"(variants: {', '.join(v.name for v in variants)}).")
    card = dataset_card(e.name, os.path.basename(ctx.recipe), list(hashes), counts, model, hashes, description,
                        header=header, kind=ctx.program.task(e.task).kind, dropped=manifest["dropped_by_label"],
                        cost=manifest["usage"], judged=manifest["judge_scores"])
    return manifest, card


def _by_label(drops: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
    return {label: dict(sorted(c.items())) for label, c in sorted(drops.items()) if c}


# -- the lock and the run log -------------------------------------------------------------------

def _lock_inputs(ctx: Context, nodes: list[str]) -> None:
    """Hash, while planning, every data file and model the selected nodes will read."""
    from synthc.runtime.io.data import HF_PREFIX, source_sha256

    for node in nodes:
        step = ctx.plan.step(node)
        if step.kind == "load":
            item: ir.Source | ir.Corpus = step.target
            full = os.path.join(ctx.root, item.path)
            if item.path in ctx.data_hashes or not (item.path.startswith(HF_PREFIX) or os.path.exists(full)):
                continue  # a missing file is the load step's E503, at its line
            try:
                ctx.data_hashes[item.path] = source_sha256(item, ctx.root)
            except OSError as exc:
                raise fail("E503", f"cannot read {shown(full)}: {exc.strerror}", item.origin, "declared here",
                           help="check the path and the file's permissions") from None
        elif step.kind == "generate":
            ctx.models.identify(step.target.model)
        elif step.kind == "judge":  # the judge's model is an input of the build too
            ctx.models.identify(step.target.filter.judge.model)


def _lock_now(ctx: Context) -> dict[str, Any]:
    return lockfile.lock_data({n: _public(i) for n, i in ctx.models.info.items()}, ctx.data_hashes)


def _unread(ctx: Context) -> lockfile.Unread:
    """What the recipe declares that this build has not read (a `--select` build's other sources,
    an evaluation's real split, models no selected node loads)."""
    paths = {ctx.plan.step(n).target.path for n in ctx.plan.order() if ctx.plan.step(n).kind == "load"}
    models = {m.name for m in ctx.program.models}
    return lockfile.Unread(frozenset(paths - set(ctx.data_hashes)), frozenset(models - set(ctx.models.info)))


def _read_lock(path: str) -> dict[str, Any] | None:
    try:
        return lockfile.read_lock(path)
    except (OSError, ValueError) as exc:
        raise fail("E507", f"{shown(path)} is not a readable lock file: {exc}", NO_SPAN,
                   help="restore it from version control, or delete it and build without --locked") from None


def _check_lock(ctx: Context, locked: bool) -> dict[str, Any]:
    """The lock these inputs give; with --locked, E507 unless the recipe's lock says the same."""
    new = _lock_now(ctx)
    if not locked:
        return new
    from synthc.runtime.models.served import locked_notes

    path = lockfile.lock_path(ctx.recipe)
    old = _read_lock(path)
    if old is None:
        raise fail("E507", f"--locked, but {shown(path)} does not exist", NO_SPAN,
                   help="build once without --locked to create the lock, and commit it")
    # Recorded keep rates are advice, not inputs; entries of inputs this build does not read are
    # not its to check (a `--select` build against the whole recipe's lock).
    ours, theirs = new, lockfile.compared(lockfile.without_keep_rates(old), _unread(ctx))
    if ctx.models.kind == "fake":  # a fake build knows nothing of real models: compare the data only
        ours, theirs = {"data": new["data"]}, {"data": theirs.get("data", {})}
    diff = lockfile.diff_lock(theirs, ours)
    if diff:
        remote = locked_notes(ctx.models.info)  # a served model's bytes are out of reach
        raise fail("E507", f"inputs differ from {shown(path)}; nothing was written", NO_SPAN, "",
                   notes=tuple(diff + remote), help="rebuild without --locked to accept the new inputs")
    return new


def write_lock(ctx: Context, new: dict[str, Any], any_export: bool) -> None:
    """Write the recipe's lock when it changed, and say so: a silent rewrite would hide drift."""
    if not any_export or ctx.models.kind == "fake":  # a fake build says nothing about real inputs
        return
    new = _lock_now(ctx) | {"data": new["data"]}  # models loaded late (a corpus's tokenizer) count too
    path = lockfile.lock_path(ctx.recipe)
    old = _read_lock(path)
    new = lockfile.carried(old, new, _unread(ctx))  # a partial build keeps the rest of the recipe's entries
    measured = {vid: s.keep_rates.data() for vid, s in ctx.variants.items() if s.keep_rates is not None}
    rates = lockfile.merge_keep_rates(old, measured, {v.id for v in ctx.program.variants()})
    if rates:
        new[lockfile.KEEP_RATES] = rates
    if old == new:
        return
    write_atomic(path, lockfile.encode_lock(new))
    changed = lockfile.diff_lock(old or {}, new)
    ctx.events.emit("lock", node="lock", note=f"{'updated' if old else 'wrote'} {shown(path)}", changes=changed)
    drift = lockfile.diff_lock(lockfile.without_keep_rates(old or {}), lockfile.without_keep_rates(new))
    if old is not None and not drift:  # only measured keep rates were added or refreshed
        ctx.events.notice(f"recorded keep rates in {shown(path)} (the next build plans its first rounds from them)")
    elif old is not None:
        changed = drift
        ctx.events.notice(f"updated {shown(path)} (`--locked` would have refused): "
                          + "; ".join(changed[:6]) + (" …" if len(changed) > 6 else ""))


def _token_facts(c: Counter[str]) -> dict[str, Any]:
    """A variant's new generations and prompt tokens: sent, and evaluated (the rest were resident
    in the backend's KV cache — shared demo prefixes, shared system messages)."""
    sent, evaluated = c["prompt_tokens"], c["evaluated_tokens"]
    return {"generated": c["generated"], "cached": c["cached"], "prompt": sent, "prompt_evaluated": evaluated,
            "evaluated_per_sent": round(evaluated / sent, 3) if sent else None}


def run_efficiency(ctx: Context) -> dict[str, dict[str, Any]]:
    """Per variant of this run: requests and prompt tokens per kept row, with the prompt tokens the
    backend evaluated (not served from its prefix cache) per kept row — a fact of this run only."""
    out = {}
    for vid, s in sorted(ctx.variants.items()):
        e, stats = s.efficiency, s.stats or Counter()
        if e is None:
            continue
        out[vid] = {"requests_per_kept": e.requests_per_kept, "prompt_tokens_per_kept": e.prompt_tokens_per_kept,
                    "prompt_evaluated_per_kept": round(stats["evaluated_tokens"] / e.kept, 1) if e.kept else None,
                    "new_requests": stats["generated"]}
    return out


def write_run_log(ctx: Context, seconds: float) -> None:
    """Facts of this run (timings, cache hits, tokens spent), kept out of the files promised
    byte-stable: `.synthc/last-build.json`, replaced by each build, and the event log."""
    facts = {
        "seconds": round(seconds, 3), "timings_s": dict(sorted(ctx.timings.items())),
        "generations": {"new": ctx.stats["generated"], "cached": ctx.stats["cached"]},
        "tokens": {"generated": ctx.stats["tokens"], "prompt": ctx.stats["prompt_tokens"],
                   "prompt_evaluated": ctx.stats["evaluated_tokens"]},
        "groups": {vid: s.groups.data() for vid, s in ctx.variants.items() if s.groups is not None},
        "variants": {vid: _token_facts(s.stats) for vid, s in sorted(ctx.variants.items()) if s.stats is not None},
        "efficiency": run_efficiency(ctx),
        "kv_bytes": {name: kv_bytes(be) for name, be in sorted(ctx.models.backends.items())},  # at the end
    }
    ctx.events.emit("build_done", **facts)
    write_atomic(os.path.join(ctx.root, ".synthc", "last-build.json"),
                 (json.dumps(facts, indent=2, sort_keys=True) + "\n").encode())
