"""The synthc compiler: `.synth` text -> checked, typed IR -> plan (a networkx DAG).

Stages run in order and each collects all of its diagnostics; the driver stops between stages
so unresolved names never cascade into type errors. `compile_file` / `compile_text` are the API;
`CompileFailed` is raised by `compile_or_raise` only, the one boundary that turns diagnostics
into an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from synthc.compiler import ir
from synthc.compiler.check import check
from synthc.compiler.diagnostics import CompileFailed, Diagnostic, Severity, Sink
from synthc.compiler.lower import lower
from synthc.compiler.plan import Plan, plan
from synthc.compiler.resolve import load, resolve
from synthc.compiler.source import SourceMap

__all__ = ["CompileResult", "compile_file", "compile_text", "compile_or_raise", "CompileFailed"]


@dataclass(slots=True)
class CompileResult:
    sources: SourceMap
    diagnostics: list[Diagnostic]  # sorted; warnings included
    program: ir.Program | None  # None when a stage failed
    plan: Plan | None

    @property
    def ok(self) -> bool:
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)


def compile_file(path: str, overrides: dict[str, str] | None = None,
                 read: Callable[[str], str] | None = None) -> CompileResult:
    """Compile the spec at `path` (and its imports); `read(path)` replaces reading from disk."""
    return _compile(path, None, overrides, read)


def compile_text(text: str, path: str = "<string>.synth", overrides: dict[str, str] | None = None) -> CompileResult:
    """Compile spec text; `path` names it in diagnostics and anchors relative paths."""
    return _compile(path, text, overrides)


def compile_or_raise(path: str, overrides: dict[str, str] | None = None) -> CompileResult:
    result = compile_file(path, overrides)
    if not result.ok:
        raise CompileFailed(result.diagnostics, result.sources)
    return result


def _compile(path: str, text: str | None, overrides: dict[str, str] | None,
             read: Callable[[str], str] | None = None) -> CompileResult:
    sources, sink = SourceMap(), Sink()

    def done(program: ir.Program | None = None, p: Plan | None = None) -> CompileResult:
        return CompileResult(sources, sink.sorted(), program, p)

    specs = load(path, sources, sink, text, read)
    if sink.has_errors:
        return done()
    resolved = resolve(specs, sources, sink, overrides)
    if sink.has_errors:
        return done()
    checked = check(resolved, sink)
    if sink.has_errors:
        return done()
    program = lower(checked)
    result_plan = plan(program, sink)
    if sink.has_errors:
        return done(program)
    return done(program, result_plan)
