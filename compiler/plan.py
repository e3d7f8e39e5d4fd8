"""IR -> Plan: a networkx DAG with one node per real unit of work, ids derived from names.

Node ids are `<kind>:<what>`: `load:source.imdb`, `sample:source.imdb`, `index:retriever.news`,
`retrieve:ag.RR` (or `retrieve:ag` when variants share the task's retrieve block),
`render:reviews.zero_shot`, `generate:…`, `parse:…`, `filter:…`, `oracle:source.gold`,
`persona:asker`, `negatives:…`, `export:…`, `evaluate:…`. Variants share every upstream node
whose inputs they share. `node_id` (`variant_node` for per-variant nodes) is the one place ids are
formatted and `node_kind` the one place one is read back.

Each Step carries its typed IR `target` (the Source, Corpus, Retriever, Persona, Variant, Export
or Evaluate it works on) and each edge the `roles` its output plays for the consumer ("seeds",
"index", "rows", ...): the runtime hands a step its target and its inputs by role, never by
parsing or formatting ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from synthc.compiler import ir
from synthc.compiler.diagnostics import Sink
from synthc.compiler.filters import KINDS as FILTER_KINDS
from synthc.compiler.filters.near_copy import guards_demos
from synthc.compiler.filters.oracle import oracle_node
from synthc.compiler.paths import FileUse
from synthc.compiler.source import NO_SPAN, Span

__all__ = ["Step", "Plan", "Target", "plan", "request_count", "node_id", "variant_node", "node_kind"]


def node_id(kind: str, *parts: str) -> str:
    """The id of a plan node: `kind:part.part` (`load:source.imdb`, `generate:ag.FewGen_0`).

    >>> node_id("load", "source", "imdb")
    'load:source.imdb'
    """
    return f"{kind}:{'.'.join(parts)}"


def variant_node(kind: str, variant: str) -> str:
    """The id of a per-variant node of variant id `variant` (`task.name`): `generate:ag.FewGen_0`.

    >>> variant_node("generate", "ag.FewGen_0")
    'generate:ag.FewGen_0'
    """
    return node_id(kind, variant)


def node_kind(node: str) -> str:
    """The kind a node id names, the part before its colon; an id without one (an event's
    `recover`, `lock`) is its own kind.

    >>> node_kind("load:corpus.news"), node_kind("lock")
    ('load', 'lock')
    """
    return node.split(":", 1)[0]


# What each node kind works on: load (Source, Corpus), sample and oracle (Source), index
# (Retriever), persona (Persona), retrieve render generate parse judge filter negatives (Variant),
# export (Export), evaluate (Evaluate).
Target = ir.Source | ir.Corpus | ir.Retriever | ir.Persona | ir.Variant | ir.Export | ir.Evaluate


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    kind: str  # load sample index retrieve persona oracle render generate parse filter negatives export evaluate
    summary: str  # one human line for `synthc plan`
    requests: int | None = None  # LLM requests this node makes (generate) or rows it renders (render)
    bound: str = "exact"  # "exact" | "at_most" (retrieval fan-out may yield fewer) | "per_row" (one per seed row)
    variant: str | None = None  # "task.variant" for per-variant nodes
    origin: Span = field(default=NO_SPAN, compare=False)
    # The IR object the step works on (for `retrieve` shared by a task's variants: the first of them).
    target: Target = field(compare=False, repr=False, kw_only=True)


@dataclass(slots=True)
class Plan:
    program: ir.Program
    graph: nx.DiGraph  # node id -> {"step": Step}; edge u -> v: v consumes u's output
    files: tuple[FileUse, ...] = ()  # every file the build reads and writes (compiler/paths.py)

    def step(self, node: str) -> Step:
        return self.graph.nodes[node]["step"]  # type: ignore[no-any-return]

    def order(self) -> list[str]:
        """The unique, stable execution order."""
        return list(nx.lexicographical_topological_sort(self.graph))

    def waves(self) -> list[list[str]]:
        return [sorted(w) for w in nx.topological_generations(self.graph)]

    def deps(self, node: str) -> list[str]:
        return sorted(self.graph.predecessors(node))

    def inputs(self, node: str) -> list[tuple[str, str]]:
        """(role, producer node) for every input of `node`, in the order the plan declared them."""
        return [(role, u) for u in self.graph.predecessors(node) for role in self.graph.edges[u, node]["roles"]]

    def select(self, selectors: list[str]) -> set[str] | None:
        """Nodes matched by ids, task names or `task.variant` names, plus everything upstream."""
        chosen: set[str] = set()
        for sel in selectors:
            hits = {n for n in self.graph if n in (sel, node_id(self.step(n).kind, sel))
                    or self.step(n).variant == sel or (self.step(n).variant or "").split(".")[0] == sel}
            if not hits:
                return None
            for h in hits:
                chosen |= {h} | nx.ancestors(self.graph, h)
        return chosen


def request_count(v: ir.Variant, program: ir.Program) -> tuple[int | None, str]:
    """How many generation requests a variant makes, and whether that is exact or a bound."""
    if v.kind == "qa_pairs":
        src = program.source(v.seeds) if v.seeds else None
        if v.total is not None:
            return v.total, "at_most"
        if src is not None and src.sample is not None and src.sample.total is not None:
            return src.sample.total, "exact"
        return None, "per_row"
    labels = len(program.label_set(v.labels).labels) if v.labels else 1
    n = v.per_label * labels if v.per_label is not None else (v.total or 0)
    return n, "at_most" if v.retrieve is not None else "exact"


def plan(program: ir.Program, sink: Sink) -> Plan:
    """Build the DAG; E401 on a cycle, E402 for exported output that is never produced.

    >>> from synthc.compiler import compile_text
    >>> p = compile_text('param n = 1').plan
    >>> p.order()
    []
    """
    g: nx.DiGraph = nx.DiGraph()
    b = _Builder(program, g)
    for v in program.variants():
        b.variant(v)
    for e in program.exports:
        b.export(e, sink)
    for ev in program.evaluations:
        b.evaluate(ev, sink)
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        cycle = []
    if cycle:
        path = " --> ".join([u for u, _ in cycle] + [cycle[0][0]])
        sink.error("E401", f"dependency cycle: {path}", b.step_origin(cycle[0][0]), "part of the cycle")
    return Plan(program, g)


class _Builder:
    def __init__(self, program: ir.Program, g: nx.DiGraph) -> None:
        self.p = program
        self.g = g
        self.finals: dict[str, str] = {}  # variant id -> its last node (filter or negatives)

    def step_origin(self, node: str) -> Span:
        return self.g.nodes[node]["step"].origin if node in self.g else NO_SPAN

    def add(self, step: Step, *deps: tuple[str, str]) -> str:
        """Add `step` (once) and an edge from each (role, producer) dependency."""
        if step.id not in self.g:
            self.g.add_node(step.id, step=step)
        for role, d in deps:
            if self.g.has_edge(d, step.id):
                roles = self.g.edges[d, step.id]["roles"]
                if role not in roles:
                    self.g.edges[d, step.id]["roles"] = roles + (role,)
            else:
                self.g.add_edge(d, step.id, roles=(role,))
        return step.id

    def load_source(self, name: str) -> str:
        s = self.p.source(name)
        where = f"{s.format} {s.path}" + (f" split={s.split}" if s.split else "")
        return self.add(Step(node_id("load", "source", name), "load", where, origin=s.origin, target=s))

    def seeds(self, name: str) -> str:
        s = self.p.source(name)
        loaded = self.load_source(name)
        if s.sample is None:
            return loaded
        sm = s.sample
        size = f"per_label={sm.per_label}" if sm.per_label is not None else f"total={sm.total}"
        return self.add(Step(node_id("sample", "source", name), "sample", f"{size} {sm.strategy} seed={sm.seed}",
                             origin=s.origin, target=s), ("rows", loaded))

    def load_corpus(self, name: str) -> str:
        c = self.p.corpus(name)
        return self.add(Step(node_id("load", "corpus", c.name), "load",
                             f"{c.format} {c.path} tokens={c.min_tokens}..{c.max_tokens} cut_at={c.truncate_at!r}",
                             origin=c.origin, target=c))

    def index(self, name: str) -> str:
        r = self.p.retriever(name)
        corpus = self.load_corpus(r.corpus)
        params = f"k1={r.k1} b={r.b}" if r.method == "bm25" else (r.embedder if r.method == "dense" else f"seed={r.seed}")
        return self.add(Step(node_id("index", "retriever", name), "index", f"{r.method} {params}", origin=r.origin,
                             target=r), ("corpus", corpus))

    def variant(self, v: ir.Variant) -> None:
        upstream: list[tuple[str, str]] = []
        seeds = self.seeds(v.seeds) if v.seeds else None
        if seeds:
            upstream.append(("seeds", seeds))
        if v.retrieve is not None and seeds:
            r = v.retrieve
            rid = node_id("retrieve", v.task) if v.retrieve_shared else variant_node("retrieve", v.id)
            demos = f" demos ranks {r.demo_ranks[0]}..{r.demo_ranks[1]}" if r.demo_ranks else ""
            size = f" per_label={r.per_label}" if r.per_label else (f" total={r.total}" if r.total else "")
            summary = (f"{r.retriever} k={r.k} inputs ranks {r.ranks[0]}..{r.ranks[1]} "
                       f"sim {r.similarity[0]}..{r.similarity[1]}{demos}{size}")
            upstream.append(("retrieval", self.add(Step(rid, "retrieve", summary, variant=None if v.retrieve_shared else v.id,
                                                        origin=r.origin, target=v),
                                                   ("seeds", seeds), ("index", self.index(r.retriever)))))
            if r.screen and v.filter.oracle is not None:  # the render step drops inputs the oracle would
                upstream.append(("screen", oracle_node(v.filter.oracle, self)))
        if v.persona:
            pers = self.p.persona(v.persona)
            fields = ", ".join(d.name for d in pers.derived)
            upstream.append(("personas", self.add(Step(node_id("persona", pers.name), "persona",
                                                       f"user={pers.user} time={pers.time} → {fields}",
                                                       origin=pers.origin, target=pers),
                                                  ("rows", self.load_source(pers.source)))))
        n, bound = request_count(v, self.p)
        m = self.p.model(v.model)
        shots = f" {v.fewshot.shots}-shot from {v.fewshot.source}" if v.fewshot else " zero-shot"
        conv = (f" conversation(every={v.conversation.every}, reset_after={v.conversation.reset_after})"
                if v.conversation else "")
        vary = "".join(f" vary {k}×{len(vals)}" for k, vals in v.vary)
        screen = "; inputs screened by the label oracle" if any(role == "screen" for role, _ in upstream) else ""
        render = self.add(Step(variant_node("render", v.id), "render", f"prompts{shots}{conv}{vary}{screen}", n, bound, v.id,
                               v.prompt.origin, target=v), *upstream)
        gen_summary = (f"model {m.name} ({m.where}, {m.mode}) T={m.temperature} top_p={m.top_p} "
                       f"max_tokens={m.max_tokens}" + _constrained(v.output)
                       + (f" prefill={v.parse.prefill!r}" if v.parse.prefill else "")
                       + (f" no_repeat_ngram={m.no_repeat_ngram}" if m.no_repeat_ngram else "")
                       + (f" wrap_up={m.wrap_up}" if m.wrap_up else "")
                       + (" copy-guarded" if guards_demos(v) else "")
                       # A `once` block adds one request per distinct key: unknown until the data is read.
                       + "".join(f" + once {o.name} per {'.'.join(o.per)}" for o in v.once or ()))
        gen = self.add(Step(variant_node("generate", v.id), "generate", gen_summary, n, bound, v.id, v.origin, target=v),
                       ("rows", render))
        prefix = f" prefix={v.parse.prefix!r}" if v.parse.prefix else ""
        parsed = self.add(Step(variant_node("parse", v.id), "parse",
                               f"split={str(v.parse.split).lower()}{prefix} reject={len(v.parse.reject)} phrases"
                               + (f" truncated={v.parse.truncated}" if v.parse.truncated != "drop" else ""),
                               variant=v.id, origin=v.parse.origin, target=v), ("generations", gen))
        # Each filter kind adds what it needs: a node of its own between parse and filter (the
        # judge), inputs of the filter step (the oracle, near_copy's sources), its summary part.
        candidates = parsed
        for k in FILTER_KINDS:
            candidates = k.plan_stage(v, self, candidates)
        f = v.filter
        deps = [("candidates", candidates)] + [d for k in FILTER_KINDS for d in k.plan_inputs(f, self)]
        parts = [p for k in sorted(FILTER_KINDS, key=lambda k: k.summary_rank) if (p := k.summary(f))]
        last = self.add(Step(variant_node("filter", v.id), "filter", " ".join(parts), variant=v.id, origin=f.origin,
                             target=v), *deps)
        if v.pairs is not None and v.pairs.negatives_from:
            last = self.add(Step(variant_node("negatives", v.id), "negatives",
                                 f"{v.pairs.negatives} from top-{v.pairs.negatives_k} of {v.pairs.negatives_from}",
                                 variant=v.id, origin=v.pairs.origin, target=v),
                            ("candidates", last), ("index", self.index(v.pairs.negatives_from)))
        self.g.nodes[last]["final"] = True
        self.finals[v.id] = last

    def _outputs(self, task: str, names: tuple[str, ...], what: str, origin: Span, sink: Sink) -> list[tuple[str, str]]:
        variants = [v for v in self.p.task(task).variants if v.name in names]
        for v in variants:
            n, _ = request_count(v, self.p)
            if n == 0:
                sink.error("E402", f"{what} reads `{v.id}`, which generates no rows", origin,
                           "its output is never produced", help="give the task a positive count")
        return [("final", self.finals[v.id]) for v in variants]

    def export(self, e: ir.Export, sink: Sink) -> None:
        deps = self._outputs(e.task, e.variants, f"export `{e.name}`", e.origin, sink)
        self.add(Step(node_id("export", e.name), "export", f"{e.format} {e.path}", origin=e.origin, target=e), *deps)

    def evaluate(self, ev: ir.Evaluate, sink: Sink) -> None:
        deps = self._outputs(ev.task, ev.variants, f"evaluate `{ev.name}`", ev.origin, sink)
        deps.append(("real", self.load_source(ev.real)))
        if ev.train:
            deps.append(("train", self.load_source(ev.train)))
        if ev.collection:
            deps.append(("collection", self.load_corpus(ev.collection)))
        self.add(Step(node_id("evaluate", ev.name), "evaluate", f"{', '.join(ev.metrics)} vs {ev.real} seeds={ev.seeds}",
                      origin=ev.origin, target=ev), *deps)


def _constrained(output: ir.Output) -> str:
    """How the generate node's summary names a constrained output (select and regex outputs have
    always read ` json` here; the golden plans keep it)."""
    return {"text": "", "template": " template"}.get(output.constraint_kind, " json")
