"""Field documentation for hover and completion: the rows of docs/language.md's field tables, so
the editor says exactly what the reference says; the schema's own type, default and doc where
the reference is not installed (a wheel without the docs folder)."""

from __future__ import annotations

import functools
import os
import re

from synthc.compiler.schema import SCHEMAS, Field, T

__all__ = ["field_doc", "block_doc", "type_text", "default_text", "LANGUAGE_MD"]

LANGUAGE_MD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "language.md")
_HEADING_KIND = re.compile(r"^(?:#{2,4} )?`(\w+)(?: NAME)?(?: \{ … \})?`")
_NAMES = re.compile(r"`(\w+)`")


@functools.cache
def _rows() -> dict[tuple[str, str], dict[str, str]]:
    """(block kind, field) -> {"type", "default", "meaning"} from the reference's tables."""
    try:
        with open(LANGUAGE_MD, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return {}
    out: dict[tuple[str, str], dict[str, str]] = {}
    kind, header = "", [""]
    for line in lines:
        m = _HEADING_KIND.match(line)
        if m and m.group(1) in SCHEMAS:
            kind = m.group(1)
            continue
        if not line.startswith("|"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells and cells[0] == "field":
            header = cells
            continue
        if not kind or not cells or set(cells[0]) <= set("-") or header[0] != "field":
            continue
        row = dict(zip(header, cells))
        for name in _NAMES.findall(cells[0]):
            out.setdefault((kind, name), row)
    return out


def type_text(t: T) -> str:
    if t.kind in ("int", "float"):
        noun = "integer" if t.kind == "int" else "number"
        if t.lo is not None and t.hi is not None:
            return f"{noun} {_n(t.lo)}..{_n(t.hi)}"
        return f"{noun} ≥ {_n(t.lo)}" if t.lo is not None else noun
    if t.kind == "enum":
        return " | ".join(t.choices)
    if t.kind == "ref":
        return f"{t.ref} name"
    if t.kind == "list":
        return f"list of {type_text(t.elem)}" if t.elem else "list"
    if t.kind == "range":
        return f"{'integer' if t.num == 'int' else 'number'} range low..high"
    if t.kind == "template":
        return f"template string ({t.scope} scope)"
    names = {"str": "string", "bool": "true | false", "regex": "regular expression string",
             "gguf": 'builtin("smollm2-135m") or a .gguf path', "dedupe": "exact | near(threshold) | none",
             "fieldtype": "field type, e.g. string(words = 10..200)", "derive": "derivation, e.g. history_top(\"tags\", k = 5)",
             "literal": "string or number", "variant": "variant name (of this task)"}
    return names.get(t.kind, t.kind)


def default_text(f: Field) -> str:
    if f.required:
        return "required"
    if f.default is None:
        return "none"
    if isinstance(f.default, bool):
        return "true" if f.default else "false"
    if isinstance(f.default, tuple):
        if len(f.default) == 2 and all(isinstance(x, (int, float)) for x in f.default):
            return f"{_n(f.default[0])}..{_n(f.default[1])}"
        return "[" + ", ".join(str(x) for x in f.default) + "]"
    if isinstance(f.default, str):
        return '"' + f.default.encode("unicode_escape").decode() + '"'
    return _n(f.default)


def field_doc(kind: str, name: str) -> str | None:
    """Markdown for field `name` of block `kind`: the reference's row, else the schema's."""
    schema = SCHEMAS.get(kind)
    f = schema.field(name) if schema else None
    rows = _rows()
    row = rows.get((kind, name)) or (rows.get(("task", name)) if kind == "variant" else None)
    if f is None and row is None:
        return None
    head = f"**{kind}.{name}**"
    if row is not None:
        type_ = row.get("type", "")
        default = row.get("default", "")
        meaning = row.get("meaning", "")
    else:
        assert f is not None
        type_, default, meaning = type_text(f.type), default_text(f), f.doc
    lines = [head, "", f"type: {type_}"]
    if default:
        lines.append(f"default: {default}")
    if meaning:
        lines += ["", meaning]
    return "\n".join(lines)


def block_doc(kind: str) -> str | None:
    schema = SCHEMAS.get(kind)
    if schema is None:
        return None
    head = f"**{kind}{' NAME' if schema.named else ''} {{ … }}**"
    parts = [head]
    if schema.doc:
        parts.append(schema.doc)
    if schema.fields:
        parts.append("fields: " + ", ".join(f"`{f.name}`" for f in schema.fields))
    if schema.blocks:
        parts.append("blocks: " + ", ".join(f"`{b}`" for b in schema.blocks))
    return "\n\n".join(parts)


def _n(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)
