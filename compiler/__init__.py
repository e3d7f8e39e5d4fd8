"""The synthc compiler: `.synth` text -> checked, typed IR -> plan (a networkx DAG).

Stages run in order and each collects all of its diagnostics; the driver stops between stages
so unresolved names never cascade into type errors. `compile_file` / `compile_text` are the API;
`CompileFailed` is raised by `compile_or_raise` only, the one boundary that turns diagnostics
into an exception.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from synthc.compiler import ast, ir
from synthc.compiler.check import check
from synthc.compiler.diagnostics import CompileFailed, Diagnostic, Severity, Sink
from synthc.compiler.inputs import check_inputs
from synthc.compiler.lower import lower
from synthc.compiler.paths import check_paths, policy_for, touched
from synthc.compiler.plan import Plan, plan
from synthc.compiler.resolve import DISK, Loader, Resolved, load, resolve
from synthc.compiler.source import SourceMap
from synthc.compiler.values import Checked

__all__ = ["CompileResult", "Stages", "compile_file", "compile_text", "compile_or_raise", "run_stages", "CompileFailed"]


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
    """Compile the spec at `path` (and its imports), and check that every file it reads exists
    (E410; the plan is kept, since it does not depend on the files' contents). `allow` adds folders
    to the path policy (compiler/paths.py)."""
    return _compile(path, None, overrides, allow, inputs=True)


def compile_text(text: str, path: str = "<string>.synth", overrides: dict[str, str] | None = None,
                 allow: Sequence[str] = ()) -> CompileResult:
    """Compile spec text; `path` names it in diagnostics and anchors relative paths and the project."""
    return _compile(path, text, overrides, allow)


def compile_or_raise(path: str, overrides: dict[str, str] | None = None, allow: Sequence[str] = ()) -> CompileResult:
    result = compile_file(path, overrides, allow)
    if not result.ok:
        raise CompileFailed(result.diagnostics, result.sources)
    return result


@dataclass(slots=True)
class Stages:
    """Every stage's output of one compilation, as far as it got (for the language server, which
    needs the checked values and the plan, not only the diagnostics)."""

    sources: SourceMap
    diagnostics: list[Diagnostic]  # sorted; warnings included
    specs: list[ast.Spec] = field(default_factory=list)  # parsed files (load order; a file that failed to parse is absent)
    resolved: Resolved | None = None
    checked: Checked | None = None
    program: ir.Program | None = None
    plan: Plan | None = None


def run_stages(path: str, text: str | None = None, overrides: dict[str, str] | None = None,
               loader: Loader = DISK, allow: Sequence[str] = (), inputs: bool = False) -> Stages:
    """Run the stages in order, stopping after the first that reports an error. Paths obey the
    policy of the recipe's project plus `allow` (compiler/paths.py). `inputs`: then check that every
    file the recipe reads exists (E410), keeping the plan (it does not depend on the files' contents)."""
    sources, sink = SourceMap(), Sink()
    out = Stages(sources, [])
    policy = policy_for(path, tuple(allow), sink)
    if not sink.has_errors:
        out.specs = load(path, sources, sink, text, loader, policy)
    if not sink.has_errors:
        out.resolved = resolve(out.specs, sources, sink, overrides)
    if not sink.has_errors and out.resolved is not None:
        out.checked = check(out.resolved, sink)
    if not sink.has_errors and out.checked is not None:
        check_paths(out.checked, policy, sink)
    if not sink.has_errors and out.checked is not None:
        out.program = dataclasses.replace(lower(out.checked), policy=policy)
        result_plan = plan(out.program, sink)
        files = touched(out.program, [f.path for f in sources.files])
        out.plan = None if sink.has_errors else dataclasses.replace(result_plan, files=files)
    if inputs and out.plan is not None and out.program is not None:
        check_inputs(out.program, sink)
    out.diagnostics = sink.sorted()
    return out


def _compile(path: str, text: str | None, overrides: dict[str, str] | None, allow: Sequence[str],
             inputs: bool = False) -> CompileResult:
    stages = run_stages(path, text, overrides, allow=allow, inputs=inputs)
    return CompileResult(stages.sources, stages.diagnostics, stages.program, stages.plan)
