"""The command line: thin. Parse arguments, call the API, render diagnostics, return an exit code.

Exit codes: 0 ok, 1 user error (diagnostics, failed steps), 2 internal error (a synthc bug).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import traceback
from typing import TYPE_CHECKING, Callable, NoReturn, TextIO

from synthc import __version__
from synthc.clihelp import epilog, formatter, use_color
from synthc.completion import SHELLS
from synthc.compiler import CompileResult, compile_file, run_stages
from synthc.compiler.codes import CODES, explain
from synthc.compiler.diagnostics import Diagnostic, Severity, Sink, render
from synthc.compiler.paths import ReadError, read_recipe
from synthc.compiler.source import NO_SPAN, SourceMap

if TYPE_CHECKING:
    from synthc.compiler import ir
    from synthc.runtime.preview.run import Preview
    from synthc.runtime.preview.show import Selection

__all__ = ["main", "entry"]


def entry() -> None:
    sys.exit(main())


class _UsageError(Exception):
    """An argument the command line does not accept (E701), raised by the parser instead of exiting 2."""

    def __init__(self, message: str, help: str | None = None) -> None:
        super().__init__(message)
        self.help = help


class _Parser(argparse.ArgumentParser):
    """argparse with coded errors: a usage mistake is E701 with exit 1 (argparse would exit 2,
    which synthc keeps for its own bugs). Subcommands' parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message, f"`{self.prog} --help` lists the arguments")


def _user_error(code: str, message: str, err: TextIO, help: str | None = None, fmt: str | None = None) -> int:
    """Print one coded diagnostic without a location (a command-line problem); returns exit status 1."""
    sink = Sink()
    sink.error(code, message, NO_SPAN, help=help)
    print(render(sink.items, SourceMap(), fmt or ("full" if err.isatty() else "concise")), file=err)
    return 1


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        args = _parser(use_color(sys.stdout)).parse_args(argv)
    except _UsageError as usage:
        return _user_error("E701", str(usage), err, usage.help)
    try:
        return int(args.func(args, out, err))
    except _UsageError as usage:
        return _user_error("E701", str(usage), err, usage.help, getattr(args, "format", None))
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return 130
    except Exception as exc:  # a bug in synthc: E999 with a report footer, never a bare traceback
        sink = Sink()
        sink.error("E999", f"internal error: {type(exc).__name__}: {exc}", NO_SPAN,
                   notes=(f"synthc {__version__}, Python {platform.python_version()}, {platform.platform()}",
                          f"argv: {' '.join(sys.argv)}"),
                   help="re-run with --debug for the traceback, and report it with the recipe")
        print(render(sink.items, SourceMap(), "full"), file=err)
        if getattr(args, "debug", False):
            traceback.print_exc(file=err)
        return 2


def _add(sub: argparse._SubParsersAction, color: bool, name: str, help: str) -> argparse.ArgumentParser:
    """A command with its examples as the epilog (synthc/clihelp.py)."""
    return sub.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".",  # type: ignore[no-any-return]
                          epilog=epilog(name, color), formatter_class=formatter(color))


def _parser(color: bool = False) -> argparse.ArgumentParser:
    p = _Parser(prog="synthc", description="Compile .synth recipes into synthetic datasets.",
                                epilog=epilog("", color), formatter_class=formatter(color))
    p.add_argument("--version", action="version", version=f"synthc {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def spec_cmd(name: str, help: str, many: bool = False) -> argparse.ArgumentParser:
        c = _add(sub, color, name, help)
        if many:  # several recipes, one after the other (what pre-commit passes)
            c.add_argument("spec", nargs="+", help="paths to .synth recipes")
        else:
            c.add_argument("spec", help="path to a .synth recipe")
        c.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a param")
        c.add_argument("--format", choices=["full", "concise", "json"], help="diagnostic format")
        c.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
        c.add_argument("--allow-path", action="append", default=[], metavar="DIR",
                       help="let the recipe read and write under DIR too (outside its project; docs/security.md)")
        return c

    c = spec_cmd("check", "compile recipes and report diagnostics", many=True)
    c.set_defaults(func=cmd_check)
    c = spec_cmd("plan", "show the DAG the runtime will execute")
    g = c.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="plan.json with schema_version")
    g.add_argument("--dot", action="store_true", help="Graphviz DOT")
    g.add_argument("--ir", action="store_true", help="the typed IR as JSON")
    g.add_argument("--prompts", action="store_true",
                   help="also print the exact prompt of each variant's first row (`synthc show` chooses rows)")
    c.add_argument("--tokens", action="store_true",
                   help="count the new rows' prompt tokens with the model's tokenizer and estimate their time")
    c.add_argument("--no-lookup", action="store_true",
                   help="compile only: do not render requests to mark cached and new rows")
    c.add_argument("--backend", choices=["llama", "fake"], default="llama",
                   help="whose cache entries to look up (fake: those of `build --backend fake`)")
    c.set_defaults(func=cmd_plan)
    c = spec_cmd("show", "print the exact prompts chosen rows send to the model (nothing is generated)")
    c.add_argument("--variant", action="append", default=[], metavar="V",
                   help="a variant, NAME or TASK.NAME (repeat for several; default: every variant)")
    g = c.add_mutually_exclusive_group()
    g.add_argument("--rows", type=int, metavar="N", help="N rows per variant, spread over its labels (default: one per label); after a "
                        "build, rows of its quota rounds too")
    g.add_argument("--row", action="append", default=[], metavar="KEY",
                   help="the row KEY, as `label/000003` (any index: a quota round's row, even one no build planned "
                        "yet) or a dataset row's `id` (repeat for several)")
    c.add_argument("--templated", action="store_true",
                   help="print the prompt as the model reads it: the model's chat template applied")
    c.add_argument("--json", action="store_true", help="one object per row, with schema_version")
    c.add_argument("--backend", choices=["llama", "fake"], default="llama",
                   help="whose tokenizer, chat template and cache entries (fake: those of `build --backend fake`)")
    c.set_defaults(func=cmd_show)
    c = _add(sub, color, "diff", "what a recipe change regenerates and costs (OLD NEW, or SPEC --against REV)")
    c.add_argument("old", metavar="OLD", help="the recipe before (or, with --against, the recipe)")
    c.add_argument("new", metavar="NEW", nargs="?", help="the recipe after")
    c.add_argument("--against", metavar="REV", help="compare SPEC with itself at git revision REV")
    g = c.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="machine-readable, with schema_version")
    g.add_argument("--markdown", action="store_true", help="a summary for a pull request")
    c.add_argument("--no-rows", action="store_true", help="IR changes only: do not load data to count rows")
    c.add_argument("--backend", choices=["llama", "fake"], default="llama",
                   help="whose cache entries to look up (fake: those of `build --backend fake`)")
    c.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a param (both sides)")
    c.add_argument("--allow-path", action="append", default=[], metavar="DIR",
                   help="also allow paths under DIR (both sides; see docs/security.md)")
    c.add_argument("--format", choices=["full", "concise", "json"], help="diagnostic format")
    c.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    c.set_defaults(func=cmd_diff)
    c = _add(sub, color, "fmt", "format recipes canonically (in place, --check, --diff, or `-` for stdin)")
    c.add_argument("files", nargs="+", help="recipes to format; `-` reads standard input and writes stdout")
    c.add_argument("--check", action="store_true", help="exit 1 if a file is not formatted; write nothing")
    c.add_argument("--diff", action="store_true",
                   help="print a unified diff of what would change; write nothing; exit 1 if anything would")
    c.add_argument("--stdin-filename", metavar="PATH", help="the name `-` has in diagnostics and diffs")
    c.add_argument("--format", choices=["full", "concise", "json"])
    c.set_defaults(func=cmd_fmt)
    c = _add(sub, color, "lsp", "run the language server (LSP over stdin/stdout) for editors")
    c.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a param in every recipe that declares it (initializationOptions.set wins per param)")
    c.add_argument("--log-file", metavar="FILE", help="append the server's log to FILE")
    c.set_defaults(func=cmd_lsp)
    c = _add(sub, color, "explain", "explain a diagnostic code, e.g. E101")
    c.add_argument("code", nargs="?", help="omit to list all codes")
    c.add_argument("--markdown", action="store_true", help="print every explanation as docs/codes.md")
    c.set_defaults(func=cmd_explain)
    c = spec_cmd("build", "execute the plan and write the dataset")
    c.add_argument("--force", action="store_true", help="ignore cached generations")
    c.add_argument("--select", action="append", default=[], metavar="NODE",
                   help="build only these nodes (ids, tasks or task.variant) and what they need")
    c.add_argument("--locked", action="store_true", help="refuse, before writing anything, if RECIPE.synth.lock differs from the inputs")
    c.add_argument("--quiet", action="store_true", help="no progress display")
    c.add_argument("--backend", choices=["llama", "fake"], default="llama",
                   help="fake: a deterministic stand-in for tests and dry runs")
    c.add_argument("--events", metavar="FILE", help="write a JSON-lines event log")
    c.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="ray: generation on Ray workers (pip install 'synthc[ray]'; docs/servers.md)")
    c.add_argument("--address", metavar="HOST:PORT", help="the Ray cluster to join (default: start a local one)")
    c.add_argument("--workers", type=_at_least_one, default=2, metavar="N", help="Ray actors per model (default 2)")
    c.add_argument("--no-doctor", action="store_true",
                   help="skip the check before generating that a served model's context fits its server (E515)")
    c.set_defaults(func=cmd_build)
    c = _add(sub, color, "doctor",
             "probe the models a recipe names (or one model) and report what will fail or be slow")
    c.add_argument("target", metavar="TARGET",
                   help="a .synth recipe, a .gguf file, a builtin model (smollm2-135m) or a server URL (http://…/v1)")
    c.add_argument("--json", action="store_true", help="the report as JSON, with schema_version")
    c.add_argument("--dialect", choices=list(_dialects()), default="openai",
                   help="a server URL's dialect (default openai; docs/servers.md)")
    c.add_argument("--served-model", metavar="ID", help="a server URL's model id (default: the first it lists)")
    c.add_argument("--api-key-env", metavar="NAME", help="a server URL's API key variable")
    c.add_argument("--mode", choices=["chat", "completion"], default="chat", help="a bare model's mode (default chat)")
    c.add_argument("--context", type=int, metavar="N",
                   help="a bare model's context (a local one: default 2048; a URL: compared with the server's)")
    c.add_argument("--threads", type=int, metavar="N", help="a local model's threads (default: llama.cpp's choice)")
    c.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a recipe's param")
    c.add_argument("--allow-path", action="append", default=[], metavar="DIR",
                   help="let the recipe read under DIR too (docs/security.md)")
    c.add_argument("--format", choices=["full", "concise", "json"], help="diagnostic format")
    c.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    c.set_defaults(func=cmd_doctor)
    c = _add(sub, color, "init", "scaffold a working, commented recipe from your own data file")
    c.add_argument("data", nargs="?", metavar="DATA", help="JSONL, CSV or Parquet file with your real rows")
    c.add_argument("--task", choices=["classification", "qa"], default="classification",
                   help="classification (text + label columns) or qa (questions to answer)")
    c.add_argument("--out", default="recipe.synth", metavar="FILE", help="recipe to create (default: recipe.synth)")
    c.add_argument("--text-field", metavar="COLUMN", help="text column (default: the first of text, sentence, ...)")
    c.add_argument("--label-field", metavar="COLUMN", help="label column (default: the first of label, class, ...)")
    c.add_argument("--format", choices=["full", "concise", "json"])
    c.set_defaults(func=cmd_init)
    c = _add(sub, color, "completion", "print a shell completion script (bash, zsh or fish)")
    c.add_argument("shell", choices=SHELLS)
    c.set_defaults(func=cmd_completion)
    c = _add(sub, color, "eval", "measure datasets against real data; write metrics.json and a report")
    c.add_argument("datasets", nargs="+", metavar="DATASET", help="JSONL/CSV/Parquet file, or NAME=PATH")
    c.add_argument("--real", required=True, metavar="TEST", help="real test split (student test set, similarity)")
    c.add_argument("--train", metavar="GOLD", help="gold train split: oracle, gold same-N student, reference")
    c.add_argument("--out", default="eval-report", metavar="DIR", help="report directory (default: eval-report)")
    c.add_argument("--text-field", default="text")
    c.add_argument("--label-field", default="label")
    c.add_argument("--metrics", metavar="M,M", type=_metric_names,
                   help=f"comma-separated subset of: {', '.join(_eval_metrics())} (default: all)")
    _metric_options(c)  # each metric's settings (compiler/metrics/), named as in an `evaluate` block
    c.add_argument("--title", help="report title")
    c.add_argument("--format", choices=["full", "concise", "json"])
    c.add_argument("--debug", action="store_true")
    c.set_defaults(func=cmd_eval)
    return p


def _at_least_one(value: str) -> int:
    """A count option that must be a whole number >= 1 (argparse turns the error into E701)."""
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got `{value}`") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _dialects() -> tuple[str, ...]:
    from synthc.compiler.schema import DIALECTS

    return tuple(DIALECTS)


def _eval_metrics() -> tuple[str, ...]:
    from synthc.compiler.metrics import NAMES  # the same names a spec's `evaluate` block takes

    return NAMES


def _metric_names(value: str) -> tuple[str, ...]:
    names = tuple(m.strip() for m in value.split(","))
    unknown = [m for m in names if m not in _eval_metrics()]
    if unknown or not value:
        raise argparse.ArgumentTypeError(f"unknown metric(s) {', '.join(unknown)}; "
                                         f"choose from {', '.join(_eval_metrics())}")
    return names


def _metric_options(c: argparse.ArgumentParser) -> None:
    """One option per evaluation setting of the metric registry: `self_bleu_sample` is
    `--self-bleu-sample N`; its type, bounds, choices, default and help come from the field."""
    from synthc.compiler.metrics import command_line_settings

    for f in command_line_settings():
        flag, t = "--" + f.name.replace("_", "-"), f.type
        default = "none" if f.default is None else ",".join(f.default) if isinstance(f.default, tuple) else f.default
        help_text = f"{f.doc} (default {str(default).lower()})"
        if t.kind == "bool":
            c.add_argument(flag, action="store_true", default=bool(f.default), help=f.doc)
        elif t.kind == "enum":
            c.add_argument(flag, choices=t.choices, default=f.default, help=help_text)
        elif t.kind == "list" and t.elem is not None and t.elem.kind == "enum":
            c.add_argument(flag, type=_choices_list(t.elem.choices), default=f.default, metavar="X,X", help=help_text)
        elif t.kind == "int":
            c.add_argument(flag, type=_bounded_int(t.lo, t.hi), default=f.default, metavar="N", help=help_text)
        else:
            raise AssertionError(f"no command-line form for the {t.kind} setting {f.name}")


def _choices_list(choices: tuple[str, ...]) -> Callable[[str], tuple[str, ...]]:
    def parse(value: str) -> tuple[str, ...]:
        items = tuple(value.split(","))
        bad = [x for x in items if x not in choices]
        if bad or not value:
            raise argparse.ArgumentTypeError(f"unknown value(s) {', '.join(bad)}; choose from {', '.join(choices)}")
        return items
    return parse


def _bounded_int(lo: float | None, hi: float | None) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got `{value}`") from None
        if (lo is not None and n < lo) or (hi is not None and n > hi):
            raise argparse.ArgumentTypeError(f"must be between {lo:g} and {hi:g}, got {n}" if hi is not None
                                             else f"must be at least {lo:g}, got {n}")
        return n
    return parse


def _overrides(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise _UsageError(f"--set expects NAME=VALUE, got `{pair}`", f"write `--set {pair}=VALUE`")
        k, v = pair.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _fmt_choice(args: argparse.Namespace, err: TextIO) -> str:
    if args.format:
        return str(args.format)
    return "full" if err.isatty() else "concise"


def report(diags: list[Diagnostic], sources: SourceMap, args: argparse.Namespace, err: TextIO) -> None:
    if diags:
        print(render(diags, sources, _fmt_choice(args, err), color=use_color(err)), file=err)
        errors = sum(d.severity is Severity.ERROR for d in diags)
        warnings = len(diags) - errors
        if _fmt_choice(args, err) != "json":
            print(f"{errors} error(s), {warnings} warning(s)", file=err)


def _compile(args: argparse.Namespace, err: TextIO, spec: str | None = None) -> CompileResult | None:
    spec = spec or args.spec
    overrides = _overrides(args.set)
    if not os.path.exists(spec):
        _user_error("E702", f"no such file: {spec}", err, "the path is relative to the current directory", args.format)
        return None
    result = compile_file(spec, overrides, args.allow_path)
    report(result.diagnostics, result.sources, args, err)
    return result


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    status = 0
    for spec in args.spec:
        result = _compile(args, err, spec)
        if result is None or not result.ok:
            status = 1
            continue
        assert result.plan is not None
        gens = [n for n in result.plan.graph if result.plan.step(n).kind == "generate"]
        print(f"ok: {spec} ({len(gens)} generating node(s), {result.plan.graph.number_of_nodes()} nodes)", file=out)
    return status


def cmd_plan(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from synthc.compiler.dump import ir_json, plan_dot, plan_json, plan_text

    result = _compile(args, err)
    if result is None or not result.ok or result.plan is None:
        return 1
    if args.dot:
        out.write(plan_dot(result.plan))
        return 0
    if args.ir:
        assert result.program is not None
        out.write(ir_json(result.program))
        return 0
    notes = None
    cache = os.path.join(result.plan.program.root, ".synthc", "cache.sqlite")
    # Cached/new rows need the data; look them up when asked (--tokens) or when a cache exists.
    if args.tokens or (not args.no_lookup and os.path.exists(cache)):
        from synthc.runtime.preview.estimate import annotate

        notes = annotate(result.plan, err, count=args.tokens, backend=args.backend, recipe=args.spec)
    if args.json:
        out.write(plan_json(result.plan, notes.data if notes else None))
        return 0
    out.write(plan_text(result.plan, notes.notes if notes else None))
    if notes:
        print(notes.summary, file=out)
    elif not args.no_lookup:
        print(f"cache: none at {os.path.relpath(os.path.dirname(cache))} yet: every request is new "
              "(--tokens counts their prompt tokens and time)", file=out)
    if args.prompts:
        from synthc.runtime.preview.show import Selection

        print(file=out)
        return _show(result, Selection(rows=1), args, out, err, previewed=notes.preview if notes else None)
    return 0


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from synthc.runtime.preview.show import Selection

    if args.rows is not None and args.rows < 1:
        raise _UsageError(f"--rows must be at least 1, got {args.rows}", "or name rows with --row KEY")
    result = _compile(args, err)
    if result is None or not result.ok or result.plan is None:
        return 1
    return _show(result, Selection(tuple(args.variant), args.rows, tuple(args.row)), args, out, err,
                 templated=args.templated, as_json=args.json)


def _show(result: CompileResult, selection: Selection, args: argparse.Namespace, out: TextIO, err: TextIO,
          templated: bool = False, as_json: bool = False, previewed: Preview | None = None) -> int:
    """Print the rows `selection` picks (runtime/preview/show.py): the requests a build would send."""
    from synthc.runtime import RunFailed
    from synthc.runtime.preview.show import as_json as json_text, as_text, show

    assert result.plan is not None
    try:
        shown = show(result.plan, selection, backend=args.backend, recipe=args.spec, previewed=previewed,
                     progress=lambda msg: print(f"… {msg}", file=err, flush=True))
    except RunFailed as failed:
        report(failed.diagnostics, result.sources, args, err)
        return 1
    if not shown and not as_json:
        print("no rows to show: the selected variants plan none (a count of 0?)", file=err)
    out.write(json_text(shown) if as_json else as_text(shown, templated))
    return 0


def cmd_diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from synthc.runtime.preview import changes

    if (args.new is None) == (args.against is None):
        raise _UsageError("give OLD NEW, or SPEC --against REV", "`synthc diff --help` shows both forms")
    overrides = _overrides(args.set)
    spec = args.new or args.old
    for path in {args.old, spec}:
        if not os.path.exists(path):
            return _user_error("E702", f"no such file: {path}", err, "the path is relative to the current directory",
                               args.format)
    if args.against:
        try:
            loader = changes.git_loader(spec, args.against)
        except changes.GitError as exc:
            print(f"error: cannot read {spec} at `{args.against}`: {exc}", file=err)
            return 1
        stages = run_stages(spec, None, overrides, loader, args.allow_path)
        old = CompileResult(stages.sources, stages.diagnostics, stages.program, stages.plan)
    else:
        old = compile_file(args.old, overrides, args.allow_path)
    new = compile_file(spec, overrides, args.allow_path)
    old_name = f"{spec}@{args.against}" if args.against else args.old
    for name, result in ((old_name, old), (spec, new)):
        if not result.ok or result.plan is None:
            if not result.diagnostics:
                print(f"error: {name} compiles to no plan", file=err)
            report(result.diagnostics, result.sources, args, err)
            print(f"error: {name} does not compile; diff needs both recipes to", file=err)
            return 1
    assert old.plan is not None and new.plan is not None
    d = changes.diff_recipes(old.plan, new.plan, old_name, spec, backend=args.backend, rows=not args.no_rows,
                             recipe=spec,
                             progress=lambda msg: print(f"… {msg}", file=err, flush=True))
    out.write(changes.as_json(d) if args.json else changes.markdown(d) if args.markdown else changes.text(d))
    return 0


def cmd_fmt(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """In place by default; `-` is standard input to standard output (an editor's format-on-save:
    on a syntax error nothing is written to stdout and the exit code is 1); `--check` and
    `--diff` write nothing and exit 1 when a file would change."""
    status = 0
    for path in args.files:
        stdin = path == "-"
        name = (args.stdin_filename or "<stdin>") if stdin else path
        try:
            text = sys.stdin.read() if stdin else read_recipe(path, regular_only=False)
        except ReadError as exc:
            code = "E702" if exc.code == "E103" else exc.code  # not there, unreadable or not UTF-8
            status = _user_error(code, f"cannot read {path}: {exc}", err, fmt=args.format)
            continue
        except UnicodeDecodeError as exc:
            status = _user_error("E702", f"cannot read {name}: not UTF-8 text (byte {exc.start})", err, fmt=args.format)
            continue
        new = _formatted(name, text, args, err)
        if new is None:
            status = 1
            continue
        if args.diff:
            if new != text:
                out.writelines(_unified_diff(name, text, new))
                status = 1
        elif args.check:
            if new != text:
                print(f"would reformat {name}", file=err)
                status = 1
        elif stdin:
            out.write(new)
        elif new != text:
            _write_atomic(path, new)
            print(f"formatted {path}", file=out)
    return status


def _formatted(name: str, text: str, args: argparse.Namespace, err: TextIO) -> str | None:
    """The canonical text, or None after reporting the syntax errors that prevent formatting."""
    from synthc.compiler.fmt import fmt
    from synthc.compiler.parse import parse
    from synthc.compiler.source import SourceFile

    sources, sink = SourceMap(), Sink()
    fid = sources.add(SourceFile.of(name, text))
    spec = parse(sources.files[fid], fid, sink)
    if spec is None:
        report(sink.sorted(), sources, args, err)
        return None
    return fmt(spec, sources.files[fid])


def _unified_diff(name: str, old: str, new: str) -> list[str]:
    import difflib

    lines = list(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                      f"{name} (original)", f"{name} (formatted)"))
    # A last line without a newline still ends its diff line, as `diff -u` marks it.
    return [ln if ln.endswith("\n") else ln + "\n\\ No newline at end of file\n" for ln in lines]


def _write_atomic(path: str, text: str) -> None:
    from synthc.runtime.io.writers import write_atomic  # the one home of atomic writing (keeps the file's mode)

    write_atomic(path, text.encode("utf-8"))


def cmd_lsp(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    overrides = _overrides(args.set)
    from synthc.lsp.server import serve  # pygls is imported only here

    return serve(overrides, args.log_file)


def cmd_explain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.markdown:
        from synthc.compiler.codes import codes_markdown

        out.write(codes_markdown())
        return 0
    if not args.code:
        for code in CODES.values():
            if not code.retired:
                print(f"{code.id}  {code.slug}  ({code.stage})", file=out)
        return 0
    text = explain(args.code)
    if text is None:
        raise _UsageError(f"unknown code `{args.code}`", "`synthc explain` lists them")
    code = CODES["E" + args.code.strip().upper()[1:]]
    print(f"# {code.id} {code.slug}\n\n{text}", file=out, end="")
    return 0


def cmd_build(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    result = _compile(args, err)
    if result is None or not result.ok or result.plan is None:
        return 1
    from synthc.runtime import RunFailed, execute

    try:
        dispatcher = None
        if args.executor == "ray":
            from synthc.runtime.engine.dispatch_ray import RayDispatcher

            dispatcher = RayDispatcher(result.plan.program, result.plan.program.root, kind=args.backend,
                                       address=args.address, workers=args.workers)
        summary = execute(result.plan, result.sources, force=args.force, select=args.select or None,
                          locked=args.locked, quiet=args.quiet, backend=args.backend, events=args.events,
                          err=err, dispatcher=dispatcher, doctor=not args.no_doctor)
    except RunFailed as failed:
        report(failed.diagnostics, result.sources, args, err)
        return 1
    print(summary, file=out)
    return 0


def cmd_doctor(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Coded findings go to stderr as diagnostics (at the model's line for a recipe), the table
    (or --json) to stdout; exit 1 when any finding is an error."""
    from synthc.runtime.models.doctor import doctor, doctor_model

    target = args.target
    if target.endswith(".synth"):
        args.spec = target
        result = _compile(args, err)
        if result is None or not result.ok or result.plan is None:
            return 1
        sources = result.sources
        rep = doctor(result.plan.program, target)
    else:
        model = _bare_model(args)
        if model is None:
            return _user_error("E702", f"no such recipe, model file or builtin model: {target}", err,
                               "give a .synth recipe, a .gguf file, a builtin model name or an http(s):// URL",
                               args.format)
        sources = SourceMap()
        rep = doctor_model(model, os.getcwd(), target, context_given=args.context is not None)
    sink = Sink()
    for f in rep.findings:
        if f.code is not None:
            add = sink.error if f.status == "error" else sink.warning
            add(f.code, f"model `{f.model}`: {f.detail}", f.span, "model declared here" if f.span != NO_SPAN else "",
                help=f.help or None)
    report(sink.items, sources, args, err)
    out.write(rep.as_json() if args.json else rep.as_text())
    return 1 if rep.errors else 0


def _bare_model(args: argparse.Namespace) -> ir.Model | None:
    """The ir.Model of `synthc doctor URL|FILE.gguf|BUILTIN`, or None when TARGET is none of them."""
    from synthc.compiler import ir
    from synthc.compiler.schema import BUILTIN_MODELS

    target = args.target
    name = "server" if target.startswith(("http://", "https://")) else os.path.basename(target)
    common = {"name": name, "mode": args.mode, "temperature": 0.0, "top_p": 1.0, "max_tokens": 64, "stop": (),
              "seed": 0, "context": args.context or 2048, "threads": args.threads}
    if target.startswith(("http://", "https://")):
        ep = ir.Endpoint(url=target.rstrip("/"), served_model=args.served_model, dialect=args.dialect,
                         api_key_env=args.api_key_env, timeout=60.0, concurrency=1, adaptive=False, retries=0)
        return ir.Model(gguf_kind="endpoint", gguf="", endpoint=ep, **common)
    if target in BUILTIN_MODELS:
        return ir.Model(gguf_kind="builtin", gguf=target, **common)
    if os.path.isfile(target):
        return ir.Model(gguf_kind="path", gguf=os.path.abspath(target), **common)
    return None


def cmd_completion(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from synthc.completion import script

    out.write(script(args.shell, _parser()))
    return 0


def cmd_init(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from synthc.init import recipe_text, summarize, write_recipe
    from synthc.runtime import RunFailed

    try:
        data = summarize(args.data, args.task, args.text_field, args.label_field) if args.data else None
        write_recipe(args.out, recipe_text(data, args.task, args.out))
    except RunFailed as failed:
        report(failed.diagnostics, SourceMap(), args, err)
        return 1
    what = f"{len(data.counts)} labels from {data.rows} rows" if data and data.counts else \
        f"{data.rows} rows" if data else "no data"
    print(f"wrote {args.out} ({what})\nnext: synthc check {args.out} && synthc build {args.out}", file=out)
    return 0


def cmd_eval(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from synthc.runtime import RunFailed
    from synthc.runtime.eval import Options, name_paths, read_dataset, run_eval

    from synthc.compiler.metrics import needs_labels

    metrics = args.metrics or _eval_metrics()
    need = needs_labels(metrics)
    # Label metrics asked for by name need labelled datasets too (E601); the default set measures what it can.
    fields = (args.text_field, args.label_field)
    try:
        named = name_paths(args.datasets)
        data = [read_dataset(p, n, *fields, need_labels=need and bool(args.metrics)) for n, p in named]
        real = read_dataset(args.real, "real", *fields, need_labels=need)
        train = read_dataset(args.train, "train", *fields, need_labels=True) if args.train else None
        opts = Options.of(metrics, args)  # the settings by their names, as from a recipe's `evaluate`
        res = run_eval(data, real, train, opts, args.out, args.title or f"synthc eval: {', '.join(n for n, _ in named)}",
                       where="--out directory", log=lambda s: print(s, file=err))
    except RunFailed as failed:
        report(failed.diagnostics, SourceMap(), args, err)
        return 1
    print(res.verdict, file=out)
    print(f"\n{res.table}\n", file=out)
    for p in res.paths:
        if not p.endswith(".png"):
            print(f"wrote {p}", file=out)
    return 0
