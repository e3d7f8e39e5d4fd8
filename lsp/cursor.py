"""Where the cursor is: from the text (half-typed recipes do not parse) and from the syntax tree.

`where(text, offset)` scans the text before the cursor for strings, comments and braces, so it
works on any prefix: the enclosing blocks, the attribute being written, whether the cursor is in a
string and inside its `{{ … }}`. `chain(spec, offset)` is the path of syntax nodes under the cursor
in a parsed file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from synthc.compiler import ast

__all__ = ["Where", "where", "chain", "template_path", "parts"]

_TOKENS = re.compile(
    r'(?P<triple>"""(?:.|\n)*?(?:"""|\Z))|(?P<str>"(?:[^"\\\n]|\\.)*(?:"|\Z|(?=\n)))|(?P<comment>#[^\n]*)'
    r"|(?P<open>\{)|(?P<close>\})|(?P<eq>=)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<nl>\n)"
)


@dataclass(slots=True)
class Where:
    blocks: list[tuple[str, str | None]] = field(default_factory=list)  # enclosing (kind, name), outermost first
    key: str | None = None  # the attribute whose value the cursor is in
    string_start: int | None = None  # offset of the opening quote when the cursor is inside a string
    line: str = ""  # the current line up to the cursor
    set_keys: set[str] = field(default_factory=set)  # attributes the innermost block already sets (before the cursor)

    @property
    def kind(self) -> str | None:
        return self.blocks[-1][0] if self.blocks else None


def where(text: str, offset: int) -> Where:
    prefix = text[:offset]
    out = Where(line=prefix[prefix.rfind("\n") + 1 :])
    words: list[str] = []
    key: str | None = None
    keys: list[set[str]] = [set()]
    for m in _TOKENS.finditer(prefix):
        kind = m.lastgroup
        if kind in ("triple", "str"):
            closed = len(m.group()) > (3 if kind == "triple" else 1) and m.group().endswith('"""' if kind == "triple" else '"')
            if m.end() == len(prefix) and not closed:
                out.string_start, out.key = m.start(), key
                return out
            words = []
        elif kind == "open":
            out.blocks.append((words[0] if words else "", words[1] if len(words) > 1 else None))
            keys.append(set())
            words, key = [], None
        elif kind == "close":
            if out.blocks:
                out.blocks.pop()
                keys.pop()
            words, key = [], None
        elif kind == "eq":
            key = words[-1] if words else None
            if key is not None:
                keys[-1].add(key)
            words = []
        elif kind == "word":
            if key is not None and not words and _value_done(prefix, m.start()):
                key = None  # a new statement after a finished value
            words.append(m.group())
        elif kind == "nl":
            pass
    out.key = key if _in_value(out.line) else None
    out.set_keys = keys[-1]
    return out


def _value_done(prefix: str, pos: int) -> bool:
    """A name on a new line after `key = value` starts a new statement."""
    eq = prefix.rfind("=", 0, pos)
    return eq == -1 or prefix.find("\n", eq, pos) != -1


def _in_value(line: str) -> bool:
    return re.match(r"^\s*[\w\"/-]+\s*=", line) is not None or re.match(r"^\s*param\s+\w+\s*=", line) is not None


_TEMPLATE_OPEN = re.compile(r"\{\{|\{%")
_TEMPLATE_CLOSE = re.compile(r"\}\}|%\}")


def template_path(string_prefix: str) -> tuple[str, ...] | None:
    """Inside `{{ … }}` or `{% … %}`: the dotted name being typed, split (`seed.te` -> ("seed", "te")),
    `("",)` when nothing is typed yet; None outside an expression."""
    opens = [m.end() for m in _TEMPLATE_OPEN.finditer(string_prefix)]
    if not opens:
        return None
    last_open = opens[-1]
    if any(m.start() >= last_open for m in _TEMPLATE_CLOSE.finditer(string_prefix)):
        return None
    expr = string_prefix[last_open:]
    m = re.search(r"([A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*)?(\s*\.\s*)?([A-Za-z_][A-Za-z0-9_]*)?$", expr)
    if m is None or not m.group(0):
        return ("",)
    text = re.sub(r"\s+", "", m.group(0))
    return tuple(text.split("."))


def chain(spec: ast.Spec, offset: int) -> list[Any]:
    """Syntax nodes containing `offset`, outermost first (blocks, declaration/attribute, expressions)."""
    out: list[Any] = []
    items: tuple[Any, ...] = spec.items
    while True:
        hit = next((i for i in items if i.span.start <= offset <= i.span.end), None)
        if hit is None:
            return out
        out.append(hit)
        if isinstance(hit, ast.Block):
            items = hit.items
        elif isinstance(hit, (ast.Attribute, ast.Declaration)):
            items = (hit.value,)
        elif isinstance(hit, ast.Directive):
            items = (hit.arg,)
        elif isinstance(hit, (ast.ListExpr, ast.RangeExpr, ast.Call)):
            items = parts(hit)
        else:
            return out


def parts(e: ast.Expr) -> tuple[ast.Expr, ...]:
    """The expressions inside `e`: list items, range ends, a call's callee and argument values."""
    if isinstance(e, ast.ListExpr):
        return e.items
    if isinstance(e, ast.RangeExpr):
        return (e.lo, e.hi)
    if isinstance(e, ast.Call):
        return (e.callee, *(a.value for a in e.args))
    return ()
