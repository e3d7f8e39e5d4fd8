"""The schema's vocabulary: value types (`T`), fields and block schemas. Their own module so the
filter kinds (compiler/filters/) can declare their schema without importing the table that
collects them (compiler/schema.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["T", "Field", "BlockSchema", "INT", "FLOAT", "STR", "BOOL", "REGEX", "ENUM", "REF", "LIST", "RANGE",
           "TEMPLATE"]


@dataclass(frozen=True, slots=True)
class T:
    """A value type: `kind` is one of int float str bool enum ref list range template gguf
    fieldtype dedupe derive literal regex textsource (`seeds` or a source name) variant per (a row
    field); the other attributes refine it."""

    kind: str
    lo: float | None = None  # numeric bound (inclusive) for int/float and range ends
    hi: float | None = None
    choices: tuple[str, ...] = ()  # enum
    ref: str = ""  # ref: the declaration kind it names
    elem: T | None = None  # list element type
    scope: str = ""  # template: the scope it is rendered in
    num: str = "int"  # range: int or float ends
    # enum: one line per choice for completion and hover; compare=False: docs are not the type
    choice_docs: tuple[str, ...] = field(default=(), compare=False)


def INT(lo: float | None = None, hi: float | None = None) -> T:
    return T("int", lo, hi)


def FLOAT(lo: float | None = None, hi: float | None = None) -> T:
    return T("float", lo, hi)


STR = T("str")
BOOL = T("bool")
REGEX = T("regex")


def ENUM(*choices: str, docs: tuple[str, ...] = ()) -> T:
    return T("enum", choices=choices, choice_docs=docs)


def REF(kind: str) -> T:
    return T("ref", ref=kind)


def LIST(elem: T) -> T:
    return T("list", elem=elem)


def RANGE(num: str = "int", lo: float | None = None, hi: float | None = None) -> T:
    return T("range", lo, hi, num=num)


def TEMPLATE(scope: str) -> T:
    return T("template", scope=scope)


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: T
    default: Any = None  # None: no default (optional unless required)
    required: bool = False
    doc: str = ""


@dataclass(frozen=True, slots=True)
class BlockSchema:
    kind: str
    named: bool  # `kind name { }` vs `kind { }`
    fields: tuple[Field, ...] = ()
    blocks: tuple[str, ...] = ()  # nested block kinds allowed
    open_attrs: T | None = None  # any key with this type (labels, vary, output)
    doc: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)
