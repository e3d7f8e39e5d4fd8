"""Completion: block kinds, a block's attributes (with snippets), enum values, declared names, and
inside a Jinja expression exactly the template variables in scope at that site (compiler/scopes)."""

from __future__ import annotations

from lsprotocol import types as lsp

from synthc.compiler.schema import BUILTIN_MODELS, DEDUPE, FIELD_TYPES, SCHEMAS, TOP, Field, T
from synthc.compiler.scopes import TEMPLATE_FIELDS, Context, Var, visible

from synthc.lsp.cursor import Where, template_path, where
from synthc.lsp.reference import block_doc, default_text, field_doc, type_text
from synthc.lsp.workspace import Analysis

__all__ = ["complete"]

_K = lsp.CompletionItemKind
_SNIPPET = lsp.InsertTextFormat.Snippet


def complete(text: str, offset: int, analysis: Analysis | None, markdown: bool = True) -> list[lsp.CompletionItem]:
    """Completion items at `offset` of the main recipe `text`; `analysis` is its last analysis that
    got through checking (names, scopes), or None. Documentation is markdown if the client takes it."""
    items = _complete(text, offset, analysis)
    if not markdown:
        for item in items:
            if isinstance(item.documentation, lsp.MarkupContent):
                item.documentation = item.documentation.value
    return items


def _complete(text: str, offset: int, analysis: Analysis | None) -> list[lsp.CompletionItem]:
    w = where(text, offset)
    if w.string_start is not None:
        return _in_string(text, offset, w, analysis)
    if w.key is not None:
        return _values(w, analysis)
    if not w.line.strip() or w.line.strip().isidentifier():
        return _statements(w)
    return []


# -- statements: blocks and attributes ----------------------------------------------------------

def _statements(w: Where) -> list[lsp.CompletionItem]:
    if not w.blocks:
        items = [_block_item(kind, top=True) for kind in TOP]
        items.append(lsp.CompletionItem("param", kind=_K.Keyword, insert_text="param ${1:name} = ${2:value}",
                                        insert_text_format=_SNIPPET, detail="param NAME = value"))
        items.append(lsp.CompletionItem("import", kind=_K.Keyword, insert_text='import "${1:file.synth}"',
                                        insert_text_format=_SNIPPET, detail='import "file.synth"'))
        return items
    schema = SCHEMAS.get(w.kind or "")
    if schema is None:
        return []
    items = [_field_item(schema.kind, f) for f in schema.fields if f.name not in w.set_keys]  # no E108 repeats
    items += [_block_item(b, top=False) for b in schema.blocks]
    return items


def _block_item(kind: str, top: bool) -> lsp.CompletionItem:
    schema = SCHEMAS[kind]
    name = " ${1:name}" if schema.named else ""
    body = "\n".join(f"\t{f.name} = {_value_snippet(f, i + (2 if schema.named else 1))}"
                     for i, f in enumerate(x for x in schema.fields if x.required))
    snippet = f"{kind}{name} {{\n{body or chr(9) + '$0'}\n}}"
    return lsp.CompletionItem(kind, kind=_K.Module if top else _K.Struct, insert_text=snippet,
                              insert_text_format=_SNIPPET, detail=f"{kind}{' NAME' if schema.named else ''} {{ … }}",
                              documentation=_md(block_doc(kind)))


def _field_item(kind: str, f: Field) -> lsp.CompletionItem:
    return lsp.CompletionItem(
        f.name, kind=_K.Property, insert_text=f"{f.name} = {_value_snippet(f, 1)}", insert_text_format=_SNIPPET,
        detail=f"{type_text(f.type)}; {default_text(f)}", documentation=_md(field_doc(kind, f.name)),
        sort_text=("0" if f.required else "1") + f.name,
    )


def _value_snippet(f: Field, n: int) -> str:
    t = f.type
    if t.kind == "enum":
        return "${%d|%s|}" % (n, ",".join(t.choices))
    if t.kind == "bool":
        return "${%d|true,false|}" % n
    if t.kind in ("str", "regex"):
        return f'"${{{n}}}"'
    if t.kind == "template":
        return f'"""\n\t${{{n}}}\n"""'
    if t.kind == "gguf":
        return f'builtin("${{{n}:smollm2-135m}}")'
    if t.kind == "list":
        return f"[${{{n}}}]"
    if t.kind == "range":
        return f"${{{n}:1}}..${{{n + 1}:10}}"
    return f"${{{n}}}"


# -- values -------------------------------------------------------------------------------------

def _values(w: Where, analysis: Analysis | None) -> list[lsp.CompletionItem]:
    schema = SCHEMAS.get(w.kind or "")
    f = schema.field(w.key or "") if schema else None
    if f is None:
        return []
    t = f.type.elem if f.type.kind == "list" and f.type.elem is not None else f.type
    if t.kind == "variant":
        return _variants(w, analysis)
    items = _for_type(t, analysis)
    if t.kind in ("int", "float", "str", "range", "literal") and analysis is not None:
        items += [lsp.CompletionItem(p, kind=_K.Constant, detail="param") for p in analysis.index.names("param")]
    return items


def _variants(w: Where, analysis: Analysis | None) -> list[lsp.CompletionItem]:
    """`extends = ` offers the other variants of the enclosing task."""
    task = w.blocks[0][1] if w.blocks and w.blocks[0][0] == "task" else None
    here = next((n for k, n in w.blocks if k == "variant"), None)
    if analysis is None or task is None:
        return []
    return [lsp.CompletionItem(n, kind=_K.Reference, detail=f"variant of task {task}")
            for n in analysis.index.names(f"variant:{task}") if n != here]


def _for_type(t: T, analysis: Analysis | None) -> list[lsp.CompletionItem]:
    if t.kind == "enum":
        docs = dict(zip(t.choices, t.choice_docs))
        return [lsp.CompletionItem(c, kind=_K.EnumMember, documentation=docs.get(c)) for c in t.choices]
    if t.kind == "bool":
        return [lsp.CompletionItem(c, kind=_K.Keyword) for c in ("true", "false")]
    if t.kind == "ref":
        names = analysis.index.names(t.ref) if analysis is not None else []
        return [lsp.CompletionItem(n, kind=_K.Reference, detail=t.ref) for n in names]
    if t.kind == "textsource":
        names = ["seeds", *(analysis.index.names("source") if analysis is not None else [])]
        return [lsp.CompletionItem(n, kind=_K.Reference, detail="texts rows must not copy") for n in names]
    if t.kind == "gguf":
        return [lsp.CompletionItem(f'builtin("{b}")', kind=_K.Function, detail="embedded model") for b in BUILTIN_MODELS]
    if t.kind == "dedupe":
        return [lsp.CompletionItem(d, kind=_K.EnumMember, insert_text="near(${1:0.9})" if d == "near" else d,
                                   insert_text_format=_SNIPPET) for d in DEDUPE]
    if t.kind == "fieldtype":
        return [lsp.CompletionItem(ft, kind=_K.Function, insert_text=f"{ft}($1)", insert_text_format=_SNIPPET)
                for ft in FIELD_TYPES]
    if t.kind == "derive":
        return [lsp.CompletionItem(n, kind=_K.Function, insert_text=s, insert_text_format=_SNIPPET) for n, s in (
            ("history_top", 'history_top("${1:column}", k = ${2:5})'), ("history_count", "history_count()"),
            ("value", 'value("${1:column}")'))]
    return []


# -- inside strings: template variables ----------------------------------------------------------

def _in_string(text: str, offset: int, w: Where, analysis: Analysis | None) -> list[lsp.CompletionItem]:
    assert w.string_start is not None
    path = template_path(text[w.string_start : offset])
    site = _site(w)
    if path is None or site is None:
        return []
    variables = _variables(site, w, analysis)
    if len(path) == 1:
        return [_var_item(v) for v in variables.values()]
    var = variables.get(path[0])
    if var is None:
        return []
    if len(path) > 2:  # below a variable's fields nothing is declared (free columns, list items)
        return []
    return [lsp.CompletionItem(m.name, kind=_K.Field, detail=f"{var.name}.{m.name}: {m.type}", documentation=m.doc)
            for m in var.fields]


def _site(w: Where) -> str | None:
    kind = "task" if w.kind == "variant" else w.kind
    return next((s for k, key, s in TEMPLATE_FIELDS if k == kind and key == w.key), None)


def _variables(site: str, w: Where, analysis: Analysis | None) -> dict[str, Var]:
    """The variables in scope at this site: over every variant that renders the template (a
    task-level prompt is shared), merged by name."""
    contexts = _contexts(site, w, analysis)
    merged: dict[str, Var] = {}
    for ctx in contexts:
        for var in visible(site, ctx):
            old = merged.get(var.name)
            if old is None:
                merged[var.name] = var
            else:
                names = {m.name for m in old.fields}
                merged[var.name] = Var(old.name, old.type, old.doc, old.when,
                                       old.fields + tuple(m for m in var.fields if m.name not in names))
    return merged


def _contexts(site: str, w: Where, analysis: Analysis | None) -> list[Context]:
    if analysis is None or analysis.stages.checked is None:
        return [Context()]
    checked = analysis.stages.checked
    if site == "corpus":
        corpus = checked.decls["corpus"].get(w.blocks[0][1] or "") if w.blocks else None
        return [Context(corpus=tuple(corpus.values.get("fields", ())) if corpus else ())]
    assert w.string_start is not None
    here = [u.context for u in checked.templates
            if u.site == site and u.lit.span.file == 0 and u.lit.span.start == w.string_start]
    if here:
        return here
    task = w.blocks[0][1] if w.blocks and w.blocks[0][0] == "task" else None
    variant = next((n for k, n in w.blocks if k == "variant"), None)
    same = [u.context for u in checked.templates if u.task == task and (variant is None or u.variant == variant)]
    return same or [Context()]


def _var_item(v: Var) -> lsp.CompletionItem:
    detail = v.type if not v.fields else f"{v.type} {{ {', '.join(m.name for m in v.fields)} }}"
    return lsp.CompletionItem(v.name, kind=_K.Variable, detail=detail, documentation=v.doc)


def _md(text: str | None) -> lsp.MarkupContent | None:
    return lsp.MarkupContent(lsp.MarkupKind.Markdown, text) if text else None

