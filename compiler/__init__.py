"""The synthc compiler: `.synth` text -> checked, typed IR -> plan (a networkx DAG).

Stages run in order and each collects all of its diagnostics; the driver stops between stages
so unresolved names never cascade into type errors. `compile_file` / `compile_text` are the API;
`CompileFailed` is raised by `compile_or_raise` only, the one boundary that turns diagnostics
into an exception.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from synthc.compiler import ir
from synthc.compiler.check import check
from synthc.compiler.diagnostics import CompileFailed, Diagnostic, Severity, Sink
from synthc.compiler.lower import lower
from synthc.compiler.paths import check_paths, policy_for, touched
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


def compile_file(path: str, overrides: dict[str, str] | None = None, allow: Sequence[str] = ()) -> CompileResult:
    """Compile the spec at `path` (and its imports); `allow` adds folders to the path policy."""
    return _compile(path, None, overrides, allow)


def compile_text(text: str, path: str = "<string>.synth", overrides: dict[str, str] | None = None,
                 allow: Sequence[str] = ()) -> CompileResult:
    """Compile spec text; `path` names it in diagnostics and anchors relative paths and the project."""
    return _compile(path, text, overrides, allow)


def compile_or_raise(path: str, overrides: dict[str, str] | None = None, allow: Sequence[str] = ()) -> CompileResult:
    result = compile_file(path, overrides, allow)
    if not result.ok:
        raise CompileFailed(result.diagnostics, result.sources)
    return result


def _compile(path: str, text: str | None, overrides: dict[str, str] | None, allow: Sequence[str]) -> CompileResult:
    sources, sink = SourceMap(), Sink()

    def done(program: ir.Program | None = None, p: Plan | None = None) -> CompileResult:
        return CompileResult(sources, sink.sorted(), program, p)

    policy = policy_for(path, tuple(allow), sink)
    if sink.has_errors:
        return done()
    specs = load(path, sources, sink, text, policy)
    if sink.has_errors:
        return done()
    resolved = resolve(specs, sources, sink, overrides)
    if sink.has_errors:
        return done()
    checked = check(resolved, sink)
    if sink.has_errors:
        return done()
    check_paths(checked, policy, sink)
    if sink.has_errors:
        return done()
    program = dataclasses.replace(lower(checked), policy=policy)
    result_plan = plan(program, sink)
    if sink.has_errors:
        return done(program)
    files = touched(program, [f.path for f in sources.files])
    return done(program, dataclasses.replace(result_plan, files=files))
