"""Checked values -> IR. Pure and total: if check passed, lowering cannot fail."""

from __future__ import annotations

import os
from typing import Any

from synthc.compiler import ast, ir
from synthc.compiler.endpoints import split_userinfo
from synthc.compiler.filters import lower_filter
from synthc.compiler.filters.oracle import DEFAULT_CALIBRATE
from synthc.compiler.formats import HF_PREFIX, detect, is_hf_folder
from synthc.compiler.metrics import settings as metric_settings
from synthc.compiler.outputs.template import split as split_template
from synthc.compiler.values import Checked, Values, Variant
from synthc.compiler.source import Span

__all__ = ["lower", "data_format", "is_hf_folder", "HF_PREFIX", "DEFAULT_CALIBRATE"]


def lower(checked: Checked) -> ir.Program:
    """Build the Program; top-level collections are sorted by name (declaration order is
    irrelevant), variants keep source order.

    >>> from synthc.compiler.resolve import load, resolve
    >>> from synthc.compiler.check import check
    >>> from synthc.compiler.diagnostics import Sink
    >>> from synthc.compiler.source import SourceMap
    >>> sm, s = SourceMap(), Sink()
    >>> lower(check(resolve(load("x.synth", sm, s, text='labels l { a = "A" }'), sm, s), s)).label_sets[0].names
    ('a',)
    """
    lw = _Lower(checked)
    d = checked.decls
    return ir.Program(
        params=tuple(sorted(checked.params.items())),
        models=tuple(lw.model(v) for _, v in sorted(d["model"].items())),
        label_sets=tuple(lw.labels(v) for _, v in sorted(d["labels"].items())),
        sources=tuple(lw.source(v) for _, v in sorted(d["source"].items())),
        corpora=tuple(lw.corpus(v) for _, v in sorted(d["corpus"].items())),
        retrievers=tuple(lw.retriever(v) for _, v in sorted(d["retriever"].items())),
        personas=tuple(lw.persona(v) for _, v in sorted(d["persona"].items())),
        tasks=tuple(lw.task(n, vs) for n, vs in sorted(checked.tasks.items())),
        exports=tuple(lw.export(v) for _, v in sorted(d["export"].items())),
        evaluations=tuple(lw.evaluate(v) for _, v in sorted(d["evaluate"].items())),
        root=checked.resolved.main_dir,
    )


# The one home of format detection is compiler/formats/ (a registry of formats); recipes, `synthc
# eval` and `synthc init` decide through it. Re-exported here for the callers that import it so.
data_format = detect


class _Lower:
    def __init__(self, checked: Checked) -> None:
        self.c = checked
        self.res = checked.resolved

    def path(self, p: str, origin: Span) -> str:
        """Paths are written relative to their own file; the IR holds them relative to the main spec."""
        if os.path.isabs(p):
            return p
        here = self.res.file_dirs.get(origin.file, self.res.main_dir)
        return os.path.normpath(os.path.relpath(os.path.join(here, p), self.res.main_dir))

    def template(self, lit: ast.Str | str | None) -> ir.Template | None:
        if lit is None:
            return None
        if isinstance(lit, str):
            return ir.Template(text=lit)
        return ir.Template(text=lit.value, origin=lit.span)

    def model(self, v: Values) -> ir.Model:
        x = v.values
        endpoint = None
        if "endpoint" in x:
            kind, ref = "endpoint", ""
            url, userinfo = split_userinfo(x["endpoint"].rstrip("/"))
            endpoint = ir.Endpoint(
                url=url, userinfo=userinfo, served_model=x.get("served_model"), dialect=x["dialect"],
                api_key_env=x.get("api_key_env"), timeout=float(x["timeout"]), concurrency=x["concurrency"],
                adaptive=x["adaptive"], retries=x["retries"],
            )
        else:
            kind, ref = x["gguf"]
        return ir.Model(
            name=v.name or "", gguf_kind=kind, gguf=self.path(ref, v.origin) if kind == "path" else ref,
            mode=x["mode"], temperature=float(x["temperature"]), top_p=float(x["top_p"]),
            max_tokens=x["max_tokens"], stop=tuple(x["stop"]), seed=x["seed"], context=x["context"],
            threads=x.get("threads"), batch=x.get("batch"), endpoint=endpoint,
            no_repeat_ngram=x.get("no_repeat_ngram"), wrap_up=x.get("wrap_up"), origin=v.origin,
            path_origin=v.spans.get("gguf", v.spans.get("endpoint", v.origin)),
        )

    def labels(self, v: Values) -> ir.LabelSet:
        return ir.LabelSet(name=v.name or "", labels=tuple(ir.Label(name=k, verbalization=val)
                                                            for k, (val, _) in v.open.items()), origin=v.origin)

    def _format(self, x: dict[str, Any], lowered: str, folder: str = "text") -> str:
        """Format of a path as lowered (relative to the main spec's directory, where it is looked at)."""
        keep_slash = "/" if x["path"].endswith(("/", os.sep)) and not lowered.endswith("/") else ""
        return data_format(lowered + keep_slash, x.get("format"), self.res.main_dir, folder)

    def data_path(self, p: str, origin: Span) -> str:
        return p if p.startswith(HF_PREFIX) else self.path(p, origin)

    def source(self, v: Values) -> ir.Source:
        x = v.values
        s = v.children.get("sample")
        sample = None if s is None else ir.Sample(
            per_label=s.values.get("per_label"), total=s.values.get("total"),
            strategy=s.values["strategy"], seed=s.values["seed"])
        return ir.Source(
            name=v.name or "", path=(p := self.data_path(x["path"], v.origin)), format=self._format(x, p),
            id=x["id"], text=x["text"], label=x.get("label"), fields=tuple(x["fields"]), split=x.get("split"),
            sample=sample, config=x.get("config"), origin=v.origin, path_origin=v.spans.get("path", v.origin))

    def corpus(self, v: Values) -> ir.Corpus:
        x = v.values
        render = self.template(x["render"])
        assert render is not None
        return ir.Corpus(
            name=v.name or "", path=(p := self.data_path(x["path"], v.origin)), format=self._format(x, p),
            id=x["id"], text=x["text"], fields=tuple(x["fields"]), split=x.get("split"), render=render,
            min_tokens=x["tokens"][0], max_tokens=x["tokens"][1], truncate_at=x["truncate_at"],
            limit=x.get("limit"), config=x.get("config"), origin=v.origin, path_origin=v.spans.get("path", v.origin))

    def retriever(self, v: Values) -> ir.Retriever:
        x = v.values
        return ir.Retriever(name=v.name or "", corpus=x["corpus"], method=x["method"], k1=float(x["k1"]),
                            b=float(x["b"]), embedder=x["embedder"], seed=x["seed"], similarity=x["similarity"],
                            origin=v.origin)

    def persona(self, v: Values) -> ir.Persona:
        x = v.values
        derived = tuple(ir.Derived(name=k, fn=fn, column=col, k=kk, fallback=fb)
                        for k, ((fn, col, kk, fb), _) in v.open.items())
        return ir.Persona(name=v.name or "", source=x["source"], user=x["user"], time=x["time"],
                          derived=derived, origin=v.origin)

    def task(self, name: str, variants: list[Variant]) -> ir.Task:
        lowered = tuple(self.variant(v) for v in variants)
        kind = lowered[0].kind if lowered else "classification"
        origin = variants[0].values.origin if variants else Span(0, 0, 0)
        return ir.Task(name=name, kind=kind, variants=lowered, origin=origin)

    def variant(self, v: Variant) -> ir.Variant:
        x = v.values.values
        b = v.blocks
        prompt = self.template(x.get("prompt"))
        assert prompt is not None
        vary = tuple((k, tuple(val)) for k, (val, _) in b["vary"].open.items()) if "vary" in b else ()
        return ir.Variant(
            task=v.task, name=v.name, kind=x["kind"], labels=x.get("labels"), model=x["model"],
            seeds=x.get("seeds"), per_label=x.get("per_label"), total=x.get("total"), persona=x.get("persona"),
            system=self.template(x.get("system")), prompt=prompt, seed=x["seed"], vary=vary,
            fewshot=self.fewshot(b.get("fewshot")), retrieve=self.retrieve(b.get("retrieve")),
            retrieve_shared="retrieve" not in v.own, conversation=self.conversation(b.get("conversation")),
            output=self.output(b.get("output"), v.values.origin), parse=self.parse(b.get("parse"), v.values.origin),
            filter=self.filter(b.get("filter"), v.values.origin, x.get("seeds")), pairs=self.pairs(b.get("pairs")),
            attempts=x["attempts"], origin=v.origin, once=self.once(b))

    def once(self, blocks: dict[str, Values]) -> tuple[ir.Once, ...] | None:
        out = []
        for key, v in blocks.items():
            if key.startswith("once:"):
                prompt = self.template(v.values["prompt"])
                assert prompt is not None
                out.append(ir.Once(name=key.split(":", 1)[1], per=tuple(v.values["per"]), prompt=prompt,
                                   max_tokens=v.values["max_tokens"], origin=v.origin))
        return tuple(out) or None

    def fewshot(self, v: Values | None) -> ir.FewShot | None:
        if v is None or v.values["shots"] == 0:
            return None
        x = v.values
        demo = self.template(x["demo"])
        assert demo is not None
        return ir.FewShot(shots=x["shots"], source=x["from"], same_label=x["same_label"], replace=x["replace"],
                          exclude_self=x["exclude_self"], demo=demo, separator=x["separator"],
                          shared=_shared_demos(x["shots"], x.get("shared")), block=x["block"], origin=v.origin)

    def retrieve(self, v: Values | None) -> ir.Retrieve | None:
        if v is None:
            return None
        x = v.values
        query = self.template(x["query"])
        assert query is not None
        return ir.Retrieve(
            retriever=x["from"], query=query, query_tokens=x["query_tokens"], k=x["k"],
            ranks=tuple(x.get("ranks") or (1, x["k"])),  # type: ignore[arg-type]
            similarity=tuple(float(s) for s in x["similarity"]),  # type: ignore[arg-type]
            demo_ranks=x.get("demo_ranks"),
            demo_similarity=tuple(float(s) for s in x["demo_similarity"]),  # type: ignore[arg-type]
            per_label=x.get("per_label"), total=x.get("total"), seed=x["seed"], screen=x["screen"] or None,
            origin=v.origin)

    def conversation(self, v: Values | None) -> ir.Conversation | None:
        if v is None:
            return None
        x = v.values
        return ir.Conversation(diversity_prompt=x["diversity_prompt"], every=x["every"],
                               reset_after=x["reset_after"], origin=v.origin)

    def output(self, v: Values | None, origin: Span) -> ir.Output:
        if v is None or (not v.open and not v.children):
            return ir.Output(fields=(ir.OutputField(name="text", type="string"),), origin=origin)
        template = v.values.get("template")
        parts = None if template is None else tuple(
            ir.TemplatePart(text=p.text, field=p.field) for p in split_template(str(template))[0])
        return ir.Output(fields=self._fields(v), origin=v.origin, template=parts)

    def _fields(self, v: Values) -> tuple[ir.OutputField, ...]:
        out = [self._field(k, val) for k, (val, _) in v.open.items()]
        for key, child in v.children.items():
            out.append(ir.OutputField(name=key.split(":", 1)[1], type="object", fields=self._fields(child)))
        return tuple(out)

    def _field(self, name: str, val: tuple[str, tuple[tuple[str, Any], ...]]) -> ir.OutputField:
        kind, args = val
        lowered = tuple((k, self._field("item", a) if k == "of" else a) for k, a in args)
        return ir.OutputField(name=name, type=kind, args=lowered)

    def parse(self, v: Values | None, origin: Span) -> ir.Parse:
        x = v.values if v is not None else {"split": False, "strip_quotes": True, "reject": (), "truncated": "drop"}
        return ir.Parse(prefix=x.get("prefix"), split=x["split"], strip_quotes=x["strip_quotes"],
                        reject=tuple(x["reject"]), truncated=x["truncated"], prefill=x.get("prefill"),
                        origin=v.origin if v is not None else origin)

    def filter(self, v: Values | None, origin: Span, seeds: str | None = None) -> ir.Filter:
        """Each registered filter kind lowers its own settings (compiler/filters/)."""
        return ir.Filter(**lower_filter(v, seeds), origin=v.origin if v is not None else origin)

    def pairs(self, v: Values | None) -> ir.Pairs | None:
        if v is None:
            return None
        x = v.values
        q, p = self.template(x["query"]), self.template(x["positive"])
        assert q is not None and p is not None
        return ir.Pairs(query=q, positive=p, negatives_from=x.get("negatives_from"), negatives=x["negatives"],
                        negatives_k=x["negatives_k"], origin=v.origin)

    def _variants(self, v: Values) -> tuple[str, ...]:
        if v.values.get("variants"):
            return tuple(v.values["variants"])
        return tuple(x.name for x in self.c.tasks.get(v.values["task"], []))

    def export(self, v: Values) -> ir.Export:
        x = v.values
        return ir.Export(name=v.name or "", task=x["task"], variants=self._variants(v),
                         path=(p := self.path(x["path"], v.origin)), format=self._format(x, p, folder="hf"),
                         origin=v.origin)

    def evaluate(self, v: Values) -> ir.Evaluate:
        x = v.values
        path = self.path(x["path"], v.origin) if "path" in x else os.path.join("out", "eval", v.name or "")
        # Every metric setting by its name (compiler/metrics/): a list is a tuple in the IR, an unset
        # optional one None.
        settings = {f.name: tuple(x[f.name]) if isinstance(x.get(f.name), list) else x.get(f.name)
                    for f in metric_settings()}
        return ir.Evaluate(name=v.name or "", task=x["task"], variants=self._variants(v), real=x["real"],
                           train=x.get("train"), metrics=tuple(x["metrics"]), path=path, origin=v.origin, **settings)


def _shared_demos(shots: int, shared: int | None) -> int:
    """Demos a block of rows shares: three quarters of the shots unless set, never more than all.
    A quarter drawn per row keeps rows of a block apart; the shared three quarters are the prompt
    prefix the backend evaluates once per block (docs/language.md, `fewshot`)."""
    return min(shots, shots * 3 // 4 if shared is None else shared)
