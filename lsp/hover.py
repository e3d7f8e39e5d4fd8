"""Hover: what a field means (docs/language.md), what a name refers to (a label set's verbalizers,
a param's value, a model's file and size), what a template variable holds, what a diagnostic's
code means (`synthc explain`), and for a task the requests its variants make (the plan)."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from synthc.compiler import ast
from synthc.compiler.codes import explain
from synthc.compiler.plan import request_count
from synthc.compiler.schema import BUILTIN_MODELS, SCHEMAS
from synthc.compiler.scopes import TEMPLATE_FIELDS, visible
from synthc.compiler.values import Values

from synthc.lsp.cursor import chain, template_path
from synthc.lsp.diagnostics import code_of
from synthc.lsp.reference import block_doc, field_doc
from synthc.lsp.workspace import Analysis

__all__ = ["hover", "requests_of"]


def hover(a: Analysis, offset: int) -> str | None:
    """Markdown for the main recipe at `offset`, or None."""
    parts = [p for p in (_node(a, offset), _diagnostics(a, offset)) if p]
    return "\n\n---\n\n".join(parts) or None


def _diagnostics(a: Analysis, offset: int) -> str | None:
    out = []
    for d in a.stages.diagnostics:
        if d.span.file == 0 and d.span.start <= offset <= max(d.span.end, d.span.start + 1):
            text = explain(d.code.id)
            if text and d.code.id not in [x[0] for x in out]:
                out.append((d.code.id, f"**{code_of(d)} {d.code.slug}** (`synthc explain {d.code.id}`)\n\n{text}"))
    return "\n\n".join(t for _, t in out) or None


def _node(a: Analysis, offset: int) -> str | None:
    occ = a.index.at(0, offset)
    if occ is not None:
        return _declared(a, occ.kind, occ.name)
    spec = next((s for s in a.stages.specs if s.file == 0), None)
    if spec is None:
        return None
    nodes = chain(spec, offset)
    blocks = [n for n in nodes if isinstance(n, ast.Block)]
    last = nodes[-1] if nodes else None
    if isinstance(last, ast.Block) and last.kind_span.start <= offset <= last.kind_span.end:
        return block_doc(last.kind)
    attr = next((n for n in nodes if isinstance(n, ast.Attribute)), None)
    if attr is not None and blocks:
        kind = blocks[-1].kind
        if attr.key_span.start <= offset <= attr.key_span.end:
            return field_doc(kind, attr.key) or _open_attr(kind, attr.key)
        if isinstance(attr.value, ast.Str):
            return _template_var(a, blocks, attr, offset)
    return None


def _open_attr(kind: str, key: str) -> str | None:
    schema = SCHEMAS.get(kind)
    if schema is None or schema.open_attrs is None:
        return None
    return f"**{kind}.{key}**\n\n{schema.doc}" if schema.doc else None


def _template_var(a: Analysis, blocks: list[ast.Block], attr: ast.Attribute, offset: int) -> str | None:
    kind = "task" if blocks[-1].kind == "variant" else blocks[-1].kind
    site = next((s for k, key, s in TEMPLATE_FIELDS if k == kind and key == attr.key), None)
    checked = a.stages.checked
    if site is None or checked is None:
        return None
    text = a.text(0).source.text
    end = offset
    while end < attr.value.span.end and (text[end].isalnum() or text[end] == "_"):
        end += 1
    path = template_path(text[attr.value.span.start : end])
    if not path or not path[0]:
        return None
    uses = [u for u in checked.templates if u.lit.span == attr.value.span]
    for u in uses:
        var = next((v for v in visible(site, u.context) if v.name == path[0]), None)
        if var is None:
            continue
        if len(path) == 1:
            fields = ", ".join(f"`{m.name}`" for m in var.fields)
            return f"**{var.name}**: {var.type}\n\n{var.doc}" + (f"\n\nfields: {fields}" if fields else "")
        member = next((m for m in var.fields if m.name == path[1]), None)
        if member is not None:
            return f"**{var.name}.{member.name}**: {member.type}\n\n{member.doc}"
    return None


# -- declared names -----------------------------------------------------------------------------

def _declared(a: Analysis, kind: str, name: str) -> str | None:
    checked = a.stages.checked
    if kind == "param":
        return _param(a, name)
    if kind.startswith("variant:"):
        return _variant(a, kind.split(":", 1)[1], name)
    values = checked.decls.get(kind, {}).get(name) if checked is not None else None
    head = f"**{kind} {name}**"
    if kind == "labels" and values is not None:
        rows = "\n".join(f"- `{k}`: {v}" for k, (v, _) in values.open.items())
        return f"{head}\n\n{rows}"
    if kind == "model" and values is not None:
        return f"{head}\n\n{_model(a, values)}"
    if kind == "task":
        return f"{head}\n\n{requests_of(a, name) or 'requests: (after the recipe checks)'}"
    if values is not None:
        shown = {k: v for k, v in values.values.items() if k in values.spans}
        body = "\n".join(f"- `{k}` = {_show(v)}" for k, v in shown.items())
        if values.open:
            body += f"\n\nfields: {', '.join(f'`{k}`' for k in values.open)}"
        return f"{head}\n\n{body.strip()}" if body.strip() else head
    return head


def _param(a: Analysis, name: str) -> str:
    checked = a.stages.checked
    value = checked.params.get(name) if checked is not None else None
    shown = "(not a literal)" if value is None else _show(value)
    note = " (set by the editor's `--set` override)" if name in a.overrides else ""
    return f"**param {name}** = {shown}{note}\n\nread as `{name}` where a value is expected, `{{{{ param.{name} }}}}` in templates"


def _model(a: Analysis, model: Values) -> str:
    kind, where = model.values.get("gguf", ("", ""))
    if kind == "builtin":
        package, filename = BUILTIN_MODELS[where]
        spec = importlib.util.find_spec(package)
        path = os.path.join(os.path.dirname(spec.origin), filename) if spec and spec.origin else None
        label = f"builtin `{where}` from the `{package}` package"
    else:
        res = a.stages.resolved
        base = res.file_dirs.get(model.origin.file, ".") if res else "."
        path = os.path.normpath(os.path.join(base, where))
        label = f"`{where}`"
    size = _size(path)
    lines = [f"file: {label}", f"path: `{path}`" if path else "path: (package not installed)", f"size: {size}"]
    lines += [f"{k}: {_show(model.values[k])}" for k in ("mode", "temperature", "max_tokens", "context") if k in model.values]
    return "\n\n".join(lines)


def _size(path: str | None) -> str:
    if not path or not os.path.exists(path):
        return "missing"
    n = float(os.path.getsize(path))
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def _variant(a: Analysis, task: str, name: str) -> str:
    head = f"**variant {name}** of task `{task}`"
    chain = _extends_chain(a, task, name)
    if chain:
        head += "\n\nextends " + " ← ".join(f"`{n}`" for n in chain) + " (their settings, then its own)"
    counts = requests_of(a, task, only=name)
    return f"{head}\n\n{counts}" if counts else head


def _extends_chain(a: Analysis, task: str, name: str) -> list[str]:
    """The variants `name` extends, nearest first (as written; a cycle stops at the repeat)."""
    blocks = {b.name: b for s in a.stages.specs for t in s.items
              if isinstance(t, ast.Block) and t.kind == "task" and t.name == task for b in t.blocks("variant")}
    out: list[str] = []
    here = blocks.get(name)
    while here is not None:
        attr = here.get("extends")
        target = attr.value.parts[-1] if attr is not None and isinstance(attr.value, ast.Ref) else None
        if target is None or target in out or target == name:
            break
        out.append(target)
        here = blocks.get(target)
    return out


def requests_of(a: Analysis, task: str, only: str | None = None) -> str | None:
    """The plan's generation requests per variant, and the bound on generated tokens."""
    program = a.stages.program
    if program is None:
        return None
    lines = []
    for v in program.variants():
        if v.task != task or (only is not None and v.name != only):
            continue
        n, bound = request_count(v, program)
        cap = program.model(v.model).max_tokens
        says = {"exact": "", "at_most": "at most ", "per_row": "one per seed row"}[bound]
        count = says if n is None else f"{says}{n}"
        tokens = f", ≤ {n * cap} generated tokens (max_tokens {cap})" if n is not None else ""
        lines.append(f"- `{v.name}`: {count} requests{tokens}")
    return "requests (plan):\n" + "\n".join(lines) if lines else None


def _show(v: Any) -> str:
    if isinstance(v, ast.Str):
        return repr(v.value[:60] + ("…" if len(v.value) > 60 else ""))
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
        return f"{v[0]}..{v[1]}"
    if isinstance(v, tuple):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)
