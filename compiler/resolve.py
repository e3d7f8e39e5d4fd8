"""Names: imports, the symbol table, duplicate definitions, references, params and --set."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from synthc.compiler import ast
from synthc.compiler.diagnostics import Diagnostic, Sink
from synthc.compiler.parse import parse
from synthc.compiler.paths import Policy, ReadError, policy_for, read_recipe, resolve_path
from synthc.compiler.schema import REF_KINDS, SCHEMAS, TOP
from synthc.compiler.source import NO_SPAN, SourceFile, SourceMap, Span
from synthc.compiler.symbols import did_you_mean

__all__ = ["Resolved", "Loader", "DISK", "resolve", "load"]


def _read(path: str) -> str:
    # Without blocking and with a size limit (a pipe named on the command line is read; imports are
    # held to regular files by the path policy before they are read).
    return read_recipe(path, regular_only=False)


@dataclass(frozen=True, slots=True)
class Loader:
    """How `load` reads and parses files. The CLI reads the disk; the language server reads its open
    editor buffers first and reuses the parses of unchanged text."""

    read: Callable[[str], str] = _read  # raises ReadError, or OSError / UnicodeDecodeError like open()
    exists: Callable[[str], bool] = os.path.exists
    parse: Callable[[SourceFile, int, Sink], ast.Spec | None] = parse


DISK = Loader()


@dataclass(slots=True)
class Resolved:
    """The merged declarations of a spec and its imports, with names bound."""

    sources: SourceMap
    main_dir: str  # directory of the main spec; relative paths in IR are relative to it
    file_dirs: dict[int, str]  # file id -> its directory (imports resolve their own paths)
    symbols: dict[str, dict[str, ast.Block]]  # kind -> name -> block (source order)
    params: dict[str, ast.Expr]  # name -> value (after --set)
    param_spans: dict[str, Span]
    unknown_top: list[ast.Item] = field(default_factory=list)  # left for check to report


def load(path: str, sources: SourceMap, sink: Sink, text: str | None = None,
         loader: Loader = DISK, policy: Policy | None = None) -> list[ast.Spec]:
    """Parse `path` and, transitively, its imports; returns the parsed specs in load order. Imports
    must resolve inside `policy` (default: the project of `path`, see compiler/paths.py)."""
    specs: list[ast.Spec] = []
    policy = policy or policy_for(path)
    _load(os.path.normpath(path), sources, sink, [], {}, specs, text, NO_SPAN, loader, policy)
    return specs


def _load(path: str, sources: SourceMap, sink: Sink, stack: list[str], done: dict[str, int],
          specs: list[ast.Spec], text: str | None, at: Span, loader: Loader, policy: Policy) -> None:
    key = os.path.abspath(path)
    if key in stack:
        chain = " --> ".join(os.path.basename(p) for p in stack[stack.index(key):] + [key])
        sink.error("E104", f"import cycle: {chain}", at, "imported here")
        return
    if key in done:
        return
    if text is None:
        try:
            text = loader.read(path)
        except ReadError as err:
            sink.error(err.code, f"cannot read `{path}`: {err}", at, "imported here" if stack else "",
                       help="a .synth recipe is UTF-8 text" if err.code == "E103" else
                       "split the recipe with `import`" if err.code == "E013" else "name a regular file")
            return
        except OSError as err:
            sink.error("E103", f"cannot read `{path}`: {err.strerror}", at, "imported here")
            return
        except UnicodeDecodeError as err:
            sink.error("E103", f"cannot read `{path}`: not UTF-8 text (byte {err.start})", at, "imported here",
                       help="a .synth recipe is UTF-8 text")
            return
    file = sources.add(SourceFile.of(path, text))
    done[key] = file
    spec = loader.parse(sources.files[file], file, sink)
    if spec is None:
        return
    stack.append(key)
    for item in spec.items:
        if isinstance(item, ast.Directive) and item.kind == "import":
            target = os.path.normpath(os.path.join(os.path.dirname(path), item.arg.value))
            allowed = resolve_path(item.arg.value, os.path.dirname(path), policy, item.arg.span, "import")
            if isinstance(allowed, Diagnostic):
                sink.items.append(allowed)
                continue
            if not loader.exists(target):
                sink.error("E103", f"import not found: `{item.arg.value}`", item.arg.span,
                           f"no file at {target}")
                continue
            _load(target, sources, sink, stack, done, specs, None, item.arg.span, loader, policy)
    stack.pop()
    specs.append(spec)


def resolve(specs: list[ast.Spec], sources: SourceMap, sink: Sink,
            overrides: dict[str, str] | None = None) -> Resolved:
    """Bind names: every declaration, every reference, every param. Collects all E1xx.

    >>> from synthc.compiler.source import SourceMap
    >>> sm, s = SourceMap(), Sink()
    >>> r = resolve(load("x.synth", sm, s, text="param n = 1"), sm, s)
    >>> sorted(r.params)
    ['n']
    """
    main = sources.files[0].path if sources.files else "."
    res = Resolved(
        sources=sources, main_dir=os.path.dirname(main) or ".",
        file_dirs={i: os.path.dirname(f.path) or "." for i, f in enumerate(sources.files)},
        symbols={k: {} for k in TOP}, params={}, param_spans={},
    )
    for spec in specs:
        for item in spec.items:
            _declare(item, res, sink)
    _apply_overrides(res, overrides or {}, sink)
    used: set[tuple[str, str]] = set()
    for kind in TOP:
        for block in res.symbols[kind].values():
            _check_refs(block, SCHEMAS[kind].kind, res, sink, used)
    if not sink.has_errors:  # a misspelt reference would also make its target look unused
        _warn_unused(res, used, sink)
    return res


def _declare(item: ast.Item, res: Resolved, sink: Sink) -> None:
    if isinstance(item, ast.Directive):
        if item.kind != "import":
            sink.error("E213", f"unknown directive `{item.kind}`", item.kind_span,
                       help='use `import "file.synth"`')
        return
    if isinstance(item, ast.Declaration):
        if item.kind != "param":
            sink.error("E213", f"unknown declaration `{item.kind}`", item.kind_span,
                       help="use `param name = value`")
        elif item.name in res.params:
            sink.error("E102", f"param `{item.name}` is defined twice", item.name_span, "defined again here",
                       secondary=((res.param_spans[item.name], "first defined here"),))
        else:
            res.params[item.name] = item.value
            res.param_spans[item.name] = item.name_span
        return
    if not isinstance(item, ast.Block) or item.kind not in TOP or item.name is None:
        res.unknown_top.append(item)
        return
    table = res.symbols[item.kind]
    if item.name in table:
        sink.error("E102", f"{item.kind} `{item.name}` is defined twice", item.name_span, "defined again here",
                   secondary=((table[item.name].name_span, "first defined here"),))
        return
    table[item.name] = item


def _apply_overrides(res: Resolved, overrides: dict[str, str], sink: Sink) -> None:
    for name, raw in overrides.items():
        if name not in res.params:
            sink.error("E110", f"`--set {name}`: no param `{name}` in the recipe", NO_SPAN,
                       help=did_you_mean(name, res.params) or f"params: {', '.join(res.params) or 'none'}")
            continue
        default = res.params[name]
        value = _coerce(raw, default)
        if value is None:
            sink.error("E207", f"`--set {name}={raw}`: expected {_type_name(default)}", res.param_spans[name],
                       "param declared here", help=f"give {_type_name(default)}, like the default")
            continue
        res.params[name] = value


def _type_name(e: ast.Expr) -> str:
    if isinstance(e, ast.Num):
        return "an integer" if isinstance(e.value, int) else "a number"
    if isinstance(e, ast.Str):
        return "a string"
    if isinstance(e, ast.Ref) and e.parts in (("true",), ("false",)):
        return "true or false"
    return "a literal"


def _coerce(raw: str, default: ast.Expr) -> ast.Expr | None:
    span = default.span
    if isinstance(default, ast.Num):
        try:
            value: int | float = int(raw) if isinstance(default.value, int) else float(raw)
        except ValueError:
            return None
        return ast.Num(value=value, span=span)
    if isinstance(default, ast.Str):
        return ast.Str(value=raw, span=span)
    if isinstance(default, ast.Ref) and default.parts in (("true",), ("false",)):
        return ast.Ref(parts=(raw,), span=span) if raw in ("true", "false") else None
    return None


def _check_refs(block: ast.Block, kind: str, res: Resolved, sink: Sink, used: set[tuple[str, str]]) -> None:
    schema = SCHEMAS.get(kind)
    if schema is None:
        return
    for attr in block.attrs():
        f = schema.field(attr.key)
        if f is None or f.type.kind != "ref":
            continue
        target = f.type.ref
        value = attr.value
        if isinstance(value, ast.Ref) and len(value.parts) == 1 and value.parts[0] in res.params:
            continue  # a param used where a name is expected: check reports the type
        if not isinstance(value, ast.Ref) or len(value.parts) != 1:
            continue  # wrong shape: check.py reports E203
        name = value.parts[0]
        if name in res.symbols[target]:
            used.add((target, name))
            continue
        elsewhere = [k for k in REF_KINDS if name in res.symbols[k]]
        hint = did_you_mean(name, res.symbols[target])
        if hint is None and elsewhere:
            hint = f"`{name}` is a {elsewhere[0]}, not a {target}"
        sink.error("E101", f"undefined {target} `{name}`", value.span, f"no {target} with this name",
                   help=hint or (f"declare `{target} {name} {{ … }}`"))
    for child in block.blocks():
        _check_refs(child, child.kind, res, sink, used)


def _warn_unused(res: Resolved, used: set[tuple[str, str]], sink: Sink) -> None:
    for kind in ("model", "labels", "corpus", "retriever", "persona"):
        for name, block in res.symbols[kind].items():
            if (kind, name) not in used and block.span.file == 0:
                sink.warning("E311", f"{kind} `{name}` is never used", block.name_span, "declared here",
                             help="use it or delete it")
