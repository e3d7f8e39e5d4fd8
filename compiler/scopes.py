"""The template scope table: which variables each template site can see, with their fields and types.

One home for the question "what may `{{ … }}` read here?": the checker reports E105/E106 against it,
the language server completes and explains from it, and the runtime builds each row's render scope
from it. A site is named by the schema (`TEMPLATE("prompt")` → site "prompt"); which variables a
site sees depends on a few facts of the variant it renders for — those facts are a `Context`, built
from checked values (`compiler/check`) or from the IR (`context_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from synthc.compiler import ir
from synthc.compiler.schema import SCHEMAS

__all__ = [
    "Member", "Var", "Site", "RowShape", "Context", "SITES", "TEMPLATE_FIELDS",
    "visible", "shape", "context_of", "once_keys", "LEAF", "ANY", "Scope",
]

# Shapes the template checker walks: a dict of fields, LEAF (a scalar: only string methods may
# follow) or ANY (lists and free values: anything goes).
LEAF = "leaf"
ANY = "any"
Scope = dict[str, Any]

SCALARS = ("str", "int", "float", "bool")


@dataclass(frozen=True, slots=True)
class Member:
    """A field of an object variable (`seed.text`)."""

    name: str
    type: str  # str int float bool list any object
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Var:
    """A template variable. `when` names the Context fact that puts it in scope ("" = always);
    `more` names where further fields come from (see `_MORE`), after the fixed `fields`;
    `spread` puts each of those names in scope on its own (the `vary` attributes)."""

    name: str
    type: str  # str int float bool list any object
    doc: str
    when: str = ""
    fields: tuple[Member, ...] = ()
    more: str = ""
    spread: bool = False


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    doc: str
    vars: tuple[Var, ...]


@dataclass(frozen=True, slots=True)
class RowShape:
    """The columns a source's rows carry besides `id` and `text`."""

    label: bool = False
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Context:
    """The facts of one variant (or corpus) that decide what its templates can see."""

    params: tuple[str, ...] = ()
    classification: bool = True
    vary: tuple[str, ...] = ()  # attribute names of the `vary` block
    seeds: RowShape | None = None  # the task's `seeds` source; None: no seeds
    docs: tuple[str, ...] | None = None  # retrieved documents' extra fields; None: no `retrieve` block
    fewshot: bool = False  # a `fewshot` block with shots > 0
    demo_docs: bool = False  # demos are (document, example) pairs: `from = retrieved` with a retrieve block
    persona: tuple[str, ...] | None = None  # the persona's derived attributes; None: no persona
    conversation: bool = False
    output: tuple[str, ...] = ("text",)  # the declared output fields
    corpus: tuple[str, ...] = ()  # corpus `render` site: the corpus's extra fields
    once: tuple[str, ...] = ()  # names of the `once` blocks


_ROW = (Member("id", "str", "the row's stable id"), Member("text", "str", "the row's text"))
_LABEL = Member("label", "str", "the row's label (sources that map a `label` column)")
_DOC = _ROW[:1] + (
    Member("text", "str", "the document as rendered by its corpus"),
    Member("rank", "int", "1-based rank of the document for this query"),
    Member("similarity", "float", "cosine similarity of the document to the query"),
)

_PARAM = Var("param", "object", "the recipe's params (after `--set`)", more="params")
_VARIANT = Var("variant", "str", "the variant's name (`default` without variants)")
_LABEL_VARS = (
    Var("label", "str", "the label this row is generated for", when="classification"),
    Var("verbalization", "str", "the label's verbalization from the label set", when="classification"),
)
_LABELS = Var("labels", "list", "every label name of the task's label set", when="classification")
_VARY = Var("vary", "str", "an attribute of the `vary` block, sampled per row", more="vary", spread=True)
_SEED = Var("seed", "object", "the seed row this row is generated from", when="seeds", fields=_ROW, more="seeds")
_DOC_VAR = Var("doc", "object", "the retrieved document this row is synthesized from", when="retrieve",
               fields=_DOC, more="docs")
_DEMOS = Var("demos", "str", "the few-shot demos, rendered and joined by `separator`", when="fewshot")
_EXAMPLES = Var("examples", "list", "the few-shot demo rows (each like `seed`)", when="fewshot")
_PERSONA = Var("persona", "object", "the persona derived for the seed row's user", when="persona",
               fields=(Member("user", "str", "the user id"),), more="persona")
_ONCE = Var("once", "object", "the values generated once per key (`once NAME` blocks)", when="once", more="once")
_TURN = Var("turn", "int", "0-based turn number within the conversation", when="conversation")

SITES: dict[str, Site] = {
    "prompt": Site("prompt", "a task's `prompt` and `system`", (
        _PARAM, _VARIANT, *_LABEL_VARS, _LABELS, _VARY, _SEED, _DOC_VAR, _DEMOS, _EXAMPLES, _PERSONA, _TURN, _ONCE,
    )),
    # Only what the key determines: the value is shared by every row with that key.
    "once": Site("once", "a `once` block's `prompt`, rendered once per distinct key", (
        _PARAM,
        Var("key", "str", "the value of the block's `per` field shared by the rows it serves"),
    )),
    "demo": Site("demo", "one few-shot demo (`fewshot.demo`), rendered once per demo", (
        _PARAM,
        Var("example", "object", "the demo's seed row", fields=_ROW, more="seeds"),
        *_LABEL_VARS[:1],
        Var("verbalization", "str", "the demo label's verbalization", when="classification"),
        Var("doc", "object", "the document retrieved for the demo's seed", when="demo_docs", fields=_DOC,
            more="docs"),
    )),
    "query": Site("query", "the retrieval query (`retrieve.query`), rendered per seed row", (
        _PARAM,
        Var("seed", "object", "the seed row the query is built from", fields=_ROW, more="seeds"),
    )),
    "pairs": Site("pairs", "a qa_pairs record's `query` and `positive` (`pairs` block)", (
        _PARAM, _VARIANT, *_LABEL_VARS, _LABELS, _VARY, _SEED, _DOC_VAR, _EXAMPLES, _PERSONA, _TURN,
        Var("output", "object", "the generated output's fields", more="output"),
    )),
    "corpus": Site("corpus", "how a corpus document reads (`corpus.render`)", (
        Var("row", "object", "the corpus row", fields=_ROW, more="corpus"),
    )),
}

# Each template-typed field of the schema, as (block kind, field, site); tasks' merged variants
# render "task" fields. Derived from the schema so a new template field needs no edit here.
TEMPLATE_FIELDS: tuple[tuple[str, str, str], ...] = tuple(
    (kind, f.name, f.type.scope)
    for kind, schema in SCHEMAS.items() if kind != "variant"
    for f in schema.fields if f.type.kind == "template"
)


def _when(name: str, ctx: Context) -> bool:
    facts = {
        "": True,
        "classification": ctx.classification,
        "seeds": ctx.seeds is not None,
        "retrieve": ctx.docs is not None,
        "fewshot": ctx.fewshot,
        "demo_docs": ctx.demo_docs,
        "persona": ctx.persona is not None,
        "conversation": ctx.conversation,
        "once": bool(ctx.once),
    }
    return facts[name]


def _more(var: Var, ctx: Context) -> tuple[Member, ...]:
    """The fields a variable takes from the context, after its fixed ones."""
    any_of = lambda names, doc: tuple(Member(n, "any", doc) for n in names)  # noqa: E731
    if var.more == "params":
        return any_of(ctx.params, "a param")
    if var.more == "vary":
        return tuple(Member(n, "str", var.doc) for n in ctx.vary)
    if var.more == "seeds":
        if ctx.seeds is None:
            return ()
        return ((_LABEL,) if ctx.seeds.label else ()) + any_of(ctx.seeds.fields, "a column listed in the source's `fields`")
    if var.more == "docs":
        return any_of(ctx.docs or (), "a column listed in the corpus's `fields`")
    if var.more == "persona":
        return any_of(ctx.persona or (), "a derived persona attribute")
    if var.more == "output":
        return any_of(ctx.output, "a declared output field")
    if var.more == "once":
        return tuple(Member(n, "str", "the value its `once` block generated for this row's key") for n in ctx.once)
    if var.more == "corpus":
        return any_of(ctx.corpus, "a column listed in the corpus's `fields`")
    return ()


def visible(site: str, ctx: Context) -> tuple[Var, ...]:
    """The variables in scope at `site` for `ctx`, each with its concrete fields (source order)."""
    out: list[Var] = []
    for var in SITES[site].vars:
        if not _when(var.when, ctx):
            continue
        more = _more(var, ctx)
        if var.spread:
            out += [Var(m.name, m.type, m.doc, var.when) for m in more]
        elif var.more == "seeds" and ctx.seeds is None:
            out.append(Var(var.name, var.type, var.doc, var.when))  # no seed source: no columns known
        elif var.name == "persona":
            out.append(Var(var.name, var.type, var.doc, var.when, more + var.fields))  # attributes first
        else:
            out.append(Var(var.name, var.type, var.doc, var.when, var.fields + more))
    return tuple(out)


def _leaf(type_: str) -> str:
    return LEAF if type_ in SCALARS else ANY


def shape(variables: tuple[Var, ...]) -> Scope:
    """The checker's view of `variables`: objects are dicts of their fields' shapes."""
    out: Scope = {}
    for var in variables:
        out[var.name] = {m.name: _leaf(m.type) for m in var.fields} if var.type == "object" else _leaf(var.type)
    return out


def context_of(v: ir.Variant, program: ir.Program) -> Context:
    """The Context of an IR variant (for the runtime's scope builder)."""
    seeds = None
    if v.seeds is not None:
        src = program.source(v.seeds)
        seeds = RowShape(src.label is not None, src.fields)
    docs = None
    if v.retrieve is not None:
        docs = program.corpus(program.retriever(v.retrieve.retriever).corpus).fields
    persona = tuple(d.name for d in program.persona(v.persona).derived) if v.persona else None
    return Context(
        params=tuple(n for n, _ in program.params), classification=v.kind == "classification",
        vary=tuple(n for n, _ in v.vary), seeds=seeds, docs=docs,
        fewshot=v.fewshot is not None and v.fewshot.shots > 0,
        demo_docs=v.fewshot is not None and v.fewshot.source == "retrieved" and v.retrieve is not None,
        persona=persona, conversation=v.conversation is not None,
        output=tuple(f.name for f in v.output.fields), once=tuple(o.name for o in v.once or ()),
    )


ONCE_VARS = ("seed", "persona", "doc")  # object variables whose fields can key a `once` block


def once_keys(ctx: Context) -> tuple[str, ...]:
    """What a `once` block's `per` may name: a prompt variable every row carries — a field of
    `seed`, `persona` or `doc`, the `label`, or a `vary` attribute — spelled as in templates."""
    out: list[str] = []
    for var in visible("prompt", ctx):
        if var.name in ONCE_VARS:
            out += [f"{var.name}.{m.name}" for m in var.fields]
        elif var.name == "label" or var.name in ctx.vary:
            out.append(var.name)
    return tuple(out)
