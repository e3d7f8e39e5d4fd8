"""Diagnostics as values, and their three renderings: full (rustc-style), concise, JSON lines."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field

from synthc.compiler.codes import CODES, Code
from synthc.compiler.source import NO_SPAN, SourceFile, SourceMap, Span
from synthc.compiler.style import paint

__all__ = [
    "Severity",
    "Label",
    "Diagnostic",
    "Sink",
    "CompileFailed",
    "render",
    "render_full",
    "render_concise",
    "render_json",
]

MAX_SHOWN = 50  # after this many, print "... and N more" (sqlglot's concat_messages)


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Label:
    """A span to underline: the primary one with `^`, secondary ones with `-`."""

    span: Span
    message: str = ""
    primary: bool = True


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding of one stage; the first primary label is its location."""

    code: Code  # registry entry (id, slug, summary)
    message: str  # terse lowercase summary, offending names in backticks
    labels: tuple[Label, ...] = ()
    notes: tuple[str, ...] = ()  # full sentences
    help: str | None = None  # one actionable line, e.g. "did you mean `positive`?"
    severity: Severity = Severity.ERROR

    @property
    def span(self) -> Span:
        for label in self.labels:
            if label.primary:
                return label.span
        return NO_SPAN

    def sort_key(self) -> tuple[int, int, str]:
        return (self.span.file, self.span.start, self.code.id)


@dataclass(slots=True)
class Sink:
    """Where a stage collects its diagnostics; the driver decides when to stop."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: Span, label: str = "", **extra: object) -> None:
        self.add(code, message, span, label, Severity.ERROR, **extra)

    def warning(self, code: str, message: str, span: Span, label: str = "", **extra: object) -> None:
        self.add(code, message, span, label, Severity.WARNING, **extra)

    def add(
        self,
        code: str,
        message: str,
        span: Span,
        label: str,
        severity: Severity,
        *,
        help: str | None = None,
        notes: tuple[str, ...] = (),
        secondary: tuple[tuple[Span, str], ...] = (),
    ) -> None:
        labels = (Label(span, label, True),) + tuple(Label(s, m, False) for s, m in secondary)
        self.items.append(Diagnostic(CODES[code], message, labels, notes, help, severity))

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=Diagnostic.sort_key)


class CompileFailed(Exception):
    """Raised once, by the driver, when a stage reported errors (the API boundary)."""

    def __init__(self, diagnostics: list[Diagnostic], sources: SourceMap) -> None:
        super().__init__(f"{sum(d.severity is Severity.ERROR for d in diagnostics)} error(s)")
        self.diagnostics = diagnostics
        self.sources = sources


def _prefix(d: Diagnostic, color: bool = False) -> str:
    tag = "E" if d.severity is Severity.ERROR else "W"
    return paint(f"{d.severity.value}[{tag}{d.code.id[1:]}]", d.severity.value, color)


def _location(d: Diagnostic, sources: SourceMap) -> tuple[str, int, int, int, int] | None:
    src = sources.get(d.span.file)
    if src is None:
        return None
    line, col = src.line_col(d.span.start)
    end_line, end_col = src.line_col(max(d.span.start, d.span.end))
    return src.path, line, col, end_line, end_col


def render_concise(diags: list[Diagnostic], sources: SourceMap, color: bool = False) -> str:
    """`file:line:col: error[E101] message`, one line each (gcc / ruff concise)."""
    lines = []
    for d in diags[:MAX_SHOWN]:
        loc = _location(d, sources)
        where = paint(f"{loc[0]}:{loc[1]}:{loc[2]}:", "message", color) + " " if loc else ""
        tail = f" ({paint('help', 'help', color)}: {d.help})" if d.help else ""
        lines.append(f"{where}{_prefix(d, color)} {d.message}{tail}")
    return "\n".join(lines + _more(diags))


def _more(diags: list[Diagnostic]) -> list[str]:
    return [f"... and {len(diags) - MAX_SHOWN} more"] if len(diags) > MAX_SHOWN else []


def render_json(diags: list[Diagnostic], sources: SourceMap) -> str:
    """One JSON object per diagnostic per line, for editors and CI annotations."""
    out = []
    for d in diags:
        loc = _location(d, sources)
        obj: dict[str, object] = {
            "code": d.code.id if d.severity is Severity.ERROR else "W" + d.code.id[1:],
            "slug": d.code.slug,
            "severity": d.severity.value,
            "message": d.message,
        }
        if loc:
            obj.update(file=loc[0], line=loc[1], column=loc[2], end_line=loc[3], end_column=loc[4])
        if d.help:
            obj["help"] = d.help
        if d.notes:
            obj["notes"] = list(d.notes)
        out.append(json.dumps(obj, ensure_ascii=False))
    return "\n".join(out)


def render_full(diags: list[Diagnostic], sources: SourceMap, color: bool = False) -> str:
    """rustc-style blocks with a gutter, the source line and carets under the span."""
    blocks = [_render_one(d, sources, color) for d in diags[:MAX_SHOWN]]
    return "\n\n".join(blocks + _more(diags))


def _render_one(d: Diagnostic, sources: SourceMap, color: bool = False) -> str:
    head = f"{_prefix(d, color)}{paint(': ' + d.message, 'message', color)}"
    loc = _location(d, sources)
    note, help_ = paint("note", "note", color), paint("help", "help", color)
    if loc is None:
        tail = [f"  = {note}: {n}" for n in d.notes] + ([f"  = {help_}: {d.help}"] if d.help else [])
        return "\n".join([head, *tail])
    labels = sorted(d.labels, key=lambda lb: (lb.span.file != d.span.file, lb.span.start))
    shown = [lb for lb in labels if lb.span.file == d.span.file]
    src = sources.files[d.span.file]
    lines_needed = sorted({src.line_col(lb.span.start)[0] for lb in shown})
    width = len(str(lines_needed[-1]))
    pad = " " * width
    bar = paint(f"{pad} |", "gutter", color)
    out = [head, f"{paint(pad + '-->', 'gutter', color)} {loc[0]}:{loc[1]}:{loc[2]}", bar]
    previous = None
    for line in lines_needed:
        if previous is not None and line > previous + 1:
            out.append(paint(f"{pad} ...", "gutter", color))
        text = src.line_text(line).expandtabs(4)
        out.append(f"{paint(f'{line:>{width}} |', 'gutter', color)} {text}".rstrip())
        for lb in (lb for lb in shown if src.line_col(lb.span.start)[0] == line):
            marks = _underline(src, lb).rstrip()
            indent = len(marks) - len(marks.lstrip(" "))
            role = ("primary" if d.severity is Severity.ERROR else "warning") if lb.primary else "secondary"
            out.append(f"{bar} {' ' * indent}{paint(marks[indent:], role, color)}".rstrip())
        previous = line
    out.append(bar)
    for lb in labels:
        if lb.span.file != d.span.file and sources.get(lb.span.file):
            other = sources.files[lb.span.file]
            ln, col = other.line_col(lb.span.start)
            out.append(f"{pad} = {note}: {lb.message} at {other.path}:{ln}:{col}")
    out += [f"{pad} = {note}: {n}" for n in d.notes]
    if d.help:
        out.append(f"{pad} = {help_}: {d.help}")
    return "\n".join(out)


def _underline(src: SourceFile, lb: Label) -> str:
    line, col = src.line_col(lb.span.start)
    text = src.line_text(line)
    prefix = text[: col - 1].expandtabs(4)
    end_line, end_col = src.line_col(max(lb.span.end, lb.span.start))
    last = end_col - 1 if end_line == line else len(text)
    width = max(1, len(text[col - 1 : last].expandtabs(4)))
    mark = ("^" if lb.primary else "-") * width
    more = "…" if end_line != line else ""
    return f"{' ' * len(prefix)}{mark}{more} {lb.message}"


def render(diags: list[Diagnostic], sources: SourceMap, fmt: str, color: bool = False) -> str:
    """Render in `full`, `concise` or `json` format; `color`: ANSI colours (never for json)."""
    if fmt == "json":
        return render_json(diags, sources)
    return (render_full if fmt == "full" else render_concise)(diags, sources, color)
