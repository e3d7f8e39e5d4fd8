"""Static checking of Jinja prompt templates against the variables in scope at their node.

A scope maps variable names to a shape (compiler/scopes.py): a nested dict of fields, LEAF (a
scalar: only string methods may follow) or ANY (params, lists: anything goes).
Every undefined variable or field is reported at its own line and column inside the spec file.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from jinja2 import Template, nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from synthc.compiler import ast
from synthc.compiler.diagnostics import Sink
from synthc.compiler.scopes import ANY, LEAF, Scope
from synthc.compiler.source import SourceMap, Span
from synthc.compiler.strings import decode
from synthc.compiler.symbols import did_you_mean

__all__ = ["LEAF", "ANY", "Scope", "check_template", "compiled", "environment", "variables"]

_JINJA_GLOBALS = {"range", "dict", "lipsum", "cycler", "joiner", "namespace", "loop", "true", "false", "none"}
_STR_ATTRS = set(dir(str))


@functools.cache
def environment() -> SandboxedEnvironment:
    """The one Jinja environment, shared with the runtime so that checking and rendering agree:
    sandboxed, no autoescape, undefined variables raise, `keep_trailing_newline` for exact prompts."""
    from jinja2 import StrictUndefined

    return SandboxedEnvironment(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)


@functools.lru_cache(maxsize=256)
def compiled(text: str) -> Template:
    """The compiled template for `text`: rows render the same few templates thousands of times."""
    return environment().from_string(text)


@dataclass(frozen=True, slots=True)
class _Use:
    path: tuple[str, ...]
    lineno: int


def variables(text: str) -> set[str]:
    """Root variable names a template reads (for plans and docs).

    >>> sorted(variables("{{ seed.text }} {% for d in demos %}{{ d }}{% endfor %}"))
    ['demos', 'seed']
    """
    uses, _ = _collect(environment().parse(text))
    return {u.path[0] for u in uses}


def check_template(lit: ast.Str, scope: Scope, where: str, sources: SourceMap, sink: Sink) -> bool:
    """Report E020/E105/E106 for `lit` rendered in `scope`; `where` names the site for messages."""
    src = sources.get(lit.span.file)
    raw = src.text[lit.span.start : lit.span.end] if src else ""
    try:
        _, offsets = decode(raw) if raw else (lit.value, [])
    except ValueError:
        offsets = []
    text = lit.value

    def at(index: int, length: int) -> Span:
        if not offsets or index >= len(offsets):
            return lit.span
        start = lit.span.start + offsets[index]
        end = lit.span.start + offsets[min(index + length, len(offsets)) - 1] + 1
        return Span(lit.span.file, start, end)

    try:
        tree = environment().parse(text)
    except TemplateSyntaxError as err:
        index = _line_index(text, err.lineno or 1)
        sink.error("E020", f"template syntax: {err.message}", at(index, 1), "Jinja rejects this template",
                   help="close every `{{ … }}` and `{% … %}`")
        return False
    uses, _locals = _collect(tree)
    ok = True
    cursor: dict[tuple[int, str], int] = {}
    for use in uses:
        if use.path[0] in _locals or use.path[0] in _JINJA_GLOBALS:
            continue
        problem = _lookup(use.path, scope)
        if problem is None:
            continue
        ok = False
        depth, field, options = problem
        index, length = _locate(text, use, depth, cursor)
        span = at(index, length)
        names = ", ".join(f"`{o}`" for o in sorted(options)) or "none"
        if depth == 0:
            sink.error("E105", f"undefined variable `{field}` in {where}", span, "not in scope here",
                       help=did_you_mean(field, options) or f"variables in scope: {names}",
                       notes=(f"In scope at this node: {names}.",))
        else:
            owner = ".".join(use.path[:depth])
            sink.error("E106", f"`{owner}` has no field `{field}`", span, f"not a field of `{owner}`",
                       help=did_you_mean(field, options) or f"fields of `{owner}`: {names}",
                       notes=(f"Fields of `{owner}`: {names}.",))
    return ok


def _lookup(path: tuple[str, ...], scope: Scope) -> tuple[int, str, list[str]] | None:
    """None if `path` is readable in `scope`, else (depth of the failing part, name, options)."""
    node: Any = scope
    for depth, part in enumerate(path):
        if node == ANY:
            return None
        if node == LEAF:
            return None if part in _STR_ATTRS else (depth, part, [])
        if part not in node:
            return depth, part, list(node)
        node = node[part]
    return None


def _line_index(text: str, lineno: int) -> int:
    index = 0
    for _ in range(lineno - 1):
        nxt = text.find("\n", index)
        if nxt == -1:
            break
        index = nxt + 1
    return index


def _locate(text: str, use: _Use, depth: int, cursor: dict[tuple[int, str], int]) -> tuple[int, int]:
    """Find the offending name on its template line (Jinja nodes carry lines, not columns)."""
    line_start = _line_index(text, use.lineno)
    line_end = text.find("\n", line_start)
    line = text[line_start : len(text) if line_end == -1 else line_end]
    parts = use.path[: depth + 1]
    pattern = r"\b" + r"\s*\.\s*".join(re.escape(p) for p in parts) + r"\b"
    key = (use.lineno, ".".join(parts))
    for m in re.finditer(pattern, line):
        if m.start() < cursor.get(key, 0):
            continue
        cursor[key] = m.end()
        name = parts[-1]
        return line_start + m.end() - len(name), len(name)
    return line_start, max(1, len(line))


def _collect(tree: nodes.Node) -> tuple[list[_Use], set[str]]:
    uses: list[_Use] = []
    local: set[str] = set()
    for node in tree.find_all((nodes.For, nodes.Assign, nodes.AssignBlock, nodes.Macro, nodes.With, nodes.CallBlock)):
        for target in _targets(node):
            local.add(target)
    _walk(tree, uses)
    return uses, local


def _targets(node: nodes.Node) -> list[str]:
    out: list[str] = []
    if isinstance(node, (nodes.For, nodes.Assign, nodes.AssignBlock)):
        out += [n.name for n in node.target.find_all(nodes.Name)]
        if isinstance(node.target, nodes.Name):
            out.append(node.target.name)
    if isinstance(node, (nodes.Macro, nodes.CallBlock)):
        out += [a.name for a in node.args]
        out.append("caller")
    if isinstance(node, nodes.Macro):
        out.append(node.name)
    if isinstance(node, nodes.With):
        out += [t.name for t in node.targets if isinstance(t, nodes.Name)]
    return out


def _walk(node: nodes.Node, uses: list[_Use]) -> None:
    chain = _chain(node)
    if chain is not None:
        uses.append(_Use(chain, node.lineno))
        inner: nodes.Node = node
        while isinstance(inner, (nodes.Getattr, nodes.Getitem)):
            if isinstance(inner, nodes.Getitem):
                _walk(inner.arg, uses)
            inner = inner.node
        return
    for child in node.iter_child_nodes():
        _walk(child, uses)


def _chain(node: nodes.Node) -> tuple[str, ...] | None:
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name) and node.ctx == "load":
            parts.append(node.name)
            return tuple(reversed(parts))
        else:
            return None
