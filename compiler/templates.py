"""Static checking of Jinja prompt templates against the variables in scope at their node.

A scope maps variable names to a shape (compiler/scopes.py): a nested dict of fields, LEAF (a
scalar: only string methods may follow) or ANY (params, lists: anything goes). Every undefined variable or field
is reported at its own line and column inside the spec file. Before that, a template is held to
what the renderer (compiler/sandbox.py) will accept, so that `synthc check` saying ok means the
build will not stop on it: nesting within MAX_TEMPLATE_DEPTH (E012), integer literals in range
(E014), valid Jinja (E020), no attribute the sandbox refuses (E021), no template loading (E022),
no function used as a value (E023).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from jinja2 import meta, nodes
from jinja2.exceptions import TemplateSyntaxError

from synthc.compiler import ast
from synthc.compiler.diagnostics import Sink
from synthc.compiler.limits import MAX_INT, MAX_NUMBER_CHARS, MAX_TEMPLATE_DEPTH, MAX_TEMPLATE_TOKENS, read_number
from synthc.compiler.sandbox import compiled, environment, is_blocked_attribute
from synthc.compiler.scopes import ANY, LEAF, Scope
from synthc.compiler.source import SourceMap, Span
from synthc.compiler.strings import decode
from synthc.compiler.symbols import did_you_mean

__all__ = ["LEAF", "ANY", "Scope", "check_template", "compiled", "environment", "variables"]

_JINJA_GLOBALS = {"range", "dict", "lipsum", "cycler", "joiner", "namespace", "loop", "true", "false", "none"}
_STR_ATTRS = {a for a in dir(str) if not is_blocked_attribute(a)}

# Tags that open a nested body (each level is a level of recursion in Jinja's parser).
_BLOCK_TAGS = {"if", "for", "macro", "call", "filter", "with", "block", "autoescape", "trans"}
# Tokens whose operand Jinja's parser reads recursively: `not not x`, `- - x`, `a if b else c if …`.
_RECURSIVE_NAMES = {"not", "if"}
_RECURSIVE_OPERATORS = {"-", "+"}
_OPEN = {"(", "[", "{"}
_CLOSE = {")", "]", "}"}
_LOADING = {nodes.Include: "include", nodes.Extends: "extends", nodes.Import: "import",
            nodes.FromImport: "from … import"}


@dataclass(frozen=True, slots=True)
class _Use:
    path: tuple[str, ...]
    lineno: int


def variables(text: str) -> set[str]:
    """Root variable names a template reads (for plans and docs).

    >>> sorted(variables("{{ seed.text }} {% for d in demos %}{{ d }}{% endfor %}"))
    ['demos', 'seed']
    """
    return meta.find_undeclared_variables(environment().parse(text))  # a loop's or set's own names are not read


def check_template(lit: ast.Str, scope: Scope, where: str, sources: SourceMap, sink: Sink) -> bool:
    """Report E012/E014/E020/E021/E022/E023/E105/E106 for `lit` rendered in `scope`; `where` names the
    site for messages. Returns True if the template is fine."""
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

    def report(problem: _Problem) -> bool:
        index, length = _find(text, problem.lineno, problem.needle)
        sink.error(problem.code, problem.message, at(index, length), problem.label, help=problem.help)
        return False

    try:
        problem = _prescan(text)
        if problem is not None:
            return report(problem)
        tree = environment().parse(text)
    except TemplateSyntaxError as err:
        return report(_syntax(err))
    problem = _too_deep(tree)
    if problem is not None:
        return report(problem)
    unsafe = _unsafe(tree, scope)
    for each in unsafe:
        report(each)
    if unsafe:
        return False
    try:
        compiled(text)  # what the renderer will run: code generation has its own checks
    except TemplateSyntaxError as err:
        return report(_syntax(err))
    uses, _locals = _collect(tree)
    code = _not_data(tree, scope, _locals)
    for each in code:
        report(each)
    ok = not code
    cursor: dict[tuple[int, str], int] = {}
    for use in uses:
        if use.path[0] in _locals or use.path[0] in _JINJA_GLOBALS:
            continue
        lookup = _lookup(use.path, scope)
        if lookup is None:
            continue
        ok = False
        depth, field, options = lookup
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


@dataclass(frozen=True, slots=True)
class _Problem:
    code: str
    message: str
    lineno: int
    needle: str  # text to underline on that template line ("" = the whole line)
    label: str
    help: str


def _syntax(err: TemplateSyntaxError) -> _Problem:
    return _Problem("E020", f"template syntax: {err.message}", err.lineno or 1, "", "Jinja rejects this template",
                    "close every `{{ … }}` and `{% … %}`")


def _deep(lineno: int, needle: str) -> _Problem:
    return _Problem("E012", f"template nested too deep: more than {MAX_TEMPLATE_DEPTH} levels", lineno, needle,
                    "the limit is crossed here",
                    "split the expression with `{% set part = … %}`, or nest fewer blocks")


def _prescan(text: str) -> _Problem | None:
    """Depth of nested tags, brackets and recursively parsed operators (`not not x`, `- - x`,
    `a if b else c if …`), and the range of number literals, from Jinja's lexer (iterative) before
    its recursive-descent parser sees the text."""
    blocks = 0  # open body tags: {% if %}, {% for %}, {% set x %} …
    inner = 0  # brackets and recursive operators inside the current tag
    tag: str | None = None  # the current {% tag %}'s name
    in_block = assign = False
    tokens = 0
    for lineno, kind, value in environment().lex(text):
        tokens += kind != "whitespace"
        if tokens > MAX_TEMPLATE_TOKENS:
            return _Problem("E013", f"template too large: more than {MAX_TEMPLATE_TOKENS:,} tokens", lineno, "",
                            "the limit is reached here", "split the template, or move long text into data files")
        if kind in ("integer", "float"):
            if not _in_range(kind, value.replace("_", "")):
                return _Problem("E014", "number out of range in template", lineno, value[:20],
                                "too large to represent", "integers must fit in 64 bits and floats must be finite")
        elif kind in ("block_begin", "variable_begin"):
            inner, tag, in_block, assign = 0, None, kind == "block_begin", False
        elif kind == "name" and in_block and tag is None:
            tag = value
            if value in _BLOCK_TAGS:
                blocks += 1
            elif value.startswith("end"):
                blocks = max(0, blocks - 1)
        elif kind == "name" and value in _RECURSIVE_NAMES:
            inner += 1
        elif kind == "operator":
            assign = assign or value == "="
            if value in _OPEN or value in _RECURSIVE_OPERATORS:
                inner += 1
            elif value in _CLOSE:
                inner = max(0, inner - 1)
        elif kind == "block_end":
            blocks += tag == "set" and not assign  # {% set x %}…{% endset %}
            in_block = False
        if blocks + inner > MAX_TEMPLATE_DEPTH:
            return _deep(lineno, value)
    return None


def _in_range(kind: str, digits: str) -> bool:
    """A template's number literal as the recipe's own (E014): an integer within 64 bits (Jinja also
    reads `0x…`, `0o…`, `0b…`), a float that stays finite (`1e400` is infinity, which would render
    as `inf` or fail at build time).

    >>> _in_range("integer", "0xff"), _in_range("integer", "9" * 20), _in_range("float", "1e400")
    (True, False, False)
    """
    if len(digits) > MAX_NUMBER_CHARS:
        return False
    if kind == "integer":
        return -MAX_INT - 1 <= int(digits, 0) <= MAX_INT
    return read_number(digits) is not None


def _too_deep(tree: nodes.Node) -> _Problem | None:
    """The depth of the syntax tree (long `a + b + …` or `x.a.b.c…` chains parse iteratively but
    nest the tree that Jinja compiles recursively)."""
    stack: list[tuple[nodes.Node, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TEMPLATE_DEPTH + 8:  # + the wrapping nodes Jinja adds (Template, Output …)
            return _deep(getattr(node, "lineno", 1) or 1, "")
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return None


def _unsafe(tree: nodes.Node, scope: Scope) -> list[_Problem]:
    """E022 for template loading, E021 for each attribute the sandbox refuses (unless the scope
    declares a data field of that name, which Jinja reads as an item), in source order."""
    out = []
    for node in tree.find_all(tuple(_LOADING)):
        word = _LOADING[type(node)]
        out.append(_Problem("E022", f"`{{% {word} %}}` is not supported in prompt templates", node.lineno,
                            word.split()[0], "templates are self-contained",
                            "inline the text, or put shared text in a `param` and use `{{ param.name }}`"))
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Getattr):
            name: Any = node.attr
        elif isinstance(node, nodes.Getitem):
            name = node.arg.value if isinstance(node.arg, nodes.Const) else None
        else:
            first = node.args[0] if node.name == "attr" and node.args else None
            name = first.value if isinstance(first, nodes.Const) else None
        if not isinstance(name, str) or not is_blocked_attribute(name):
            continue
        chain = _chain(node) if not isinstance(node, nodes.Filter) else None
        if chain is not None and not name.startswith("__") and _declared(chain, scope):
            continue  # a data field named like that: `{{ seed.format }}` reads the column
        out.append(_Problem("E021", f"the template sandbox refuses the attribute `{name}`", node.lineno, name,
                            "unsafe attribute", "read data fields only; format with filters, e.g. `{{ x|round(2) }}`"))
    unique = {(p.lineno, p.needle, p.code): p for p in out}
    return sorted(unique.values(), key=lambda p: p.lineno)


_CALLABLE_GLOBALS = {"range", "dict", "lipsum", "cycler", "joiner", "namespace"}


def _not_data(tree: nodes.Node, scope: Scope, local: set[str]) -> list[_Problem]:
    """E023 where a template uses a method of a scope value (`{{ label.count }}`) or a global
    function (`{{ range }}`) as a value instead of calling it: its text is a memory address that
    changes every run. The renderer refuses every other case (a computed value) the same way."""
    used = {id(n.node) for n in tree.find_all((nodes.Call, nodes.Test))}  # called, or tested: `is callable`
    out = []
    for node in tree.find_all((nodes.Getattr, nodes.Name)):
        if id(node) in used:
            continue
        if isinstance(node, nodes.Name):
            name = node.name
            bad = node.ctx == "load" and name in _CALLABLE_GLOBALS and name not in local
        else:
            chain = _chain(node)
            name = node.attr
            bad = chain is not None and chain[0] not in local and _is_method(chain, scope)
        if bad:
            out.append(_Problem("E023", f"`{name}` is a function, not data", node.lineno, name,
                                "used as a value, never called",
                                f"call it (`{name}()` with its arguments) or output a data field"))
    unique = {(p.lineno, p.needle): p for p in out}
    return sorted(unique.values(), key=lambda p: p.lineno)


def _is_method(path: tuple[str, ...], scope: Scope) -> bool:
    """True if the last part of `path` names a string method of a scalar scope value."""
    node: Any = scope
    for part in path[:-1]:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return node == LEAF and path[-1] in _STR_ATTRS


def _declared(path: tuple[str, ...], scope: Scope) -> bool:
    node: Any = scope
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _find(text: str, lineno: int, needle: str) -> tuple[int, int]:
    """Index and length of `needle` on template line `lineno` (the whole line if not found)."""
    start = _line_index(text, lineno)
    end = text.find("\n", start)
    line = text[start : len(text) if end == -1 else end]
    hit = line.find(needle) if needle else -1
    if hit >= 0:
        return start + hit, max(1, len(needle))
    return start, 1


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


def _walk(tree: nodes.Node, uses: list[_Use]) -> None:
    """Every read of a variable (as a chain `a.b.c`), with an explicit stack: no recursion limit."""
    stack = [tree]
    while stack:
        node = stack.pop()
        chain = _chain(node)
        if chain is not None:
            uses.append(_Use(chain, node.lineno))
            inner: nodes.Node = node
            while isinstance(inner, (nodes.Getattr, nodes.Getitem)):
                if isinstance(inner, nodes.Getitem):
                    stack.append(inner.arg)
                inner = inner.node
            continue
        stack.extend(reversed(list(node.iter_child_nodes())))


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
