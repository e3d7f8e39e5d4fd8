"""Text -> AST. Maps lark's errors to coded diagnostics and recovers so that one typo does not
hide the next: the offending line is blanked (keeping offsets and brace balance) and the file is
parsed again, up to MAX_RECOVERIES times."""

from __future__ import annotations

import re
from typing import Any

from lark import Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from synthc.compiler import ast
from synthc.compiler.diagnostics import Sink
from synthc.compiler.limits import MAX_NESTING, MAX_RECOVERY_CHARS, MAX_SOURCE_CHARS, MAX_TOKENS, read_number
from synthc.compiler.source import SourceFile, Span
from synthc.compiler.strings import DecodeError, decode
from synthc.grammar import parser

__all__ = ["parse"]

MAX_RECOVERIES = 50

# Terminal names as a person would say them, for "expected one of …".
_TERMINALS = {
    "LBRACE": "`{`", "RBRACE": "`}`", "EQUAL": "`=`", "NAME": "a name", "STRING": "a string",
    "MLSTRING": "a string", "NUMBER": "a number", "LSQB": "`[`", "RSQB": "`]`", "LPAR": "`(`",
    "RPAR": "`)`", "COMMA": "`,`", "DOT": "`.`", "__ANON_0": "`..`", "$END": "end of file",
}
_COMMENT = re.compile(r"#[^\n]*")


def parse(source: SourceFile, file: int, sink: Sink) -> ast.Spec | None:
    """Parse one file; every syntax error goes to `sink`. Returns None if any was found.

    >>> from synthc.compiler.source import SourceFile
    >>> parse(SourceFile.of("x", "param n = 5"), 0, Sink()).items[0].name
    'n'
    """
    text = source.text
    if not _within_limits(text, file, sink):
        return None
    errors_before = len(sink.items)
    tree: Tree[Any] | None = None
    seen: set[int] = set()
    for attempt in range(MAX_RECOVERIES):
        if attempt * len(text) > MAX_RECOVERY_CHARS:
            break  # a large file full of errors: report the first ones, answer quickly
        try:
            tree = parser().parse(text)
            break
        except UnexpectedInput as err:
            line_start = _report(err, source, file, sink)
            if line_start is None or line_start in seen:
                break
            seen.add(line_start)
            text = _blank_line(text, line_start)
    if tree is None:
        return None
    # Transform even the recovered tree: string-literal errors (E005) surface in the same run.
    builder = _ToAst(file, sink)
    try:
        items = builder.transform(tree)
    except VisitError as err:  # a transformer bug, never the user's: surface as E999
        sink.error("E999", f"internal error while building the syntax tree: {err.orig_exc!r}", Span(file, 0, 0))
        return None
    if len(sink.items) > errors_before:
        return None
    comments = _comments(source.text, file, builder.string_spans)
    return ast.Spec(items=items, comments=comments, file=file)


# One pass over the text's tokens (strings and comments matched whole, so that their brackets do not
# count). Every alternative is linear (no nested quantifiers): no backtracking blowup.
_SCAN = re.compile(r'"""(?:[^"]|"(?!""))*(?:"""|\Z)|"(?:[^"\\\n]|\\.)*"?|(#[^\n]*)|[A-Za-z0-9_]+|\S')


def _within_limits(text: str, file: int, sink: Sink) -> bool:
    """E013 for a file over the size or token limit, E012 at the first bracket nested deeper than the
    limit. Checked before lark runs: its time grows with the tokens, and the syntax tree is walked
    recursively, so both are bounded first."""
    if len(text) > MAX_SOURCE_CHARS:
        sink.error("E013", f"file too large: {len(text):,} characters (the limit is {MAX_SOURCE_CHARS:,})",
                   Span(file, MAX_SOURCE_CHARS, MAX_SOURCE_CHARS), "the limit is reached here",
                   help="split the recipe with `import`, or move long text into data files")
        return False
    depth = tokens = 0
    for m in _SCAN.finditer(text):
        if m.group(1) is not None:
            continue  # a comment
        tokens += 1
        if tokens > MAX_TOKENS:
            sink.error("E013", f"file too large: more than {MAX_TOKENS:,} tokens",
                       Span(file, m.start(), m.end()), "the limit is reached here",
                       help="split the recipe with `import`, or move long lists into data files")
            return False
        ch = m.group()
        if ch in ("{", "[", "("):
            depth += 1
            if depth > MAX_NESTING:
                sink.error("E012", f"nesting too deep: more than {MAX_NESTING} levels of `{{`, `[` and `(`",
                           Span(file, m.start(), m.end()), f"level {depth} opens here",
                           help="flatten the structure; recipes nest blocks a few levels deep")
                return False
        elif ch in ("}", "]", ")"):
            depth = max(0, depth - 1)
    return True


def _comments(text: str, file: int, strings: list[tuple[int, int]]) -> tuple[ast.Comment, ...]:
    inside = sorted(strings)
    out = []
    for m in _COMMENT.finditer(text):
        if any(a <= m.start() < b for a, b in inside):
            continue
        out.append(ast.Comment(text=m.group().rstrip(), span=Span(file, m.start(), m.end())))
    return tuple(out)


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _blank_line(text: str, start: int) -> str:
    """Replace one line by spaces, keeping its net braces as `_ {` / `}` so blocks stay balanced."""
    end = text.find("\n", start)
    end = len(text) if end == -1 else end
    line = text[start:end]
    code = re.sub(r'"([^"\\\n]|\\.)*"', "", line.split("#", 1)[0])
    net = code.count("{") - code.count("}")
    filler = ("_ {" * net) if net > 0 else ("}" * -net)
    filler = filler[: len(line)]
    return text[:start] + filler.ljust(len(line)) + text[end:]


def _expected(names: set[str]) -> str:
    said = sorted({_TERMINALS.get(n, f"`{n}`") for n in names})
    return ", ".join(said[:-1]) + (" or " if len(said) > 1 else "") + said[-1] if said else "nothing"


def _report(err: UnexpectedInput, src: SourceFile, file: int, sink: Sink) -> int | None:
    """Add the diagnostic for one lark error; returns the start of the line to blank (or None)."""
    text = src.text
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream
        if text.startswith('"', pos):
            end = text.find("\n", pos)
            span = Span(file, pos, len(text) if end == -1 else end)
            sink.error("E004", "unterminated string", span, "string starts here",
                       help='close it with `"`; for several lines use `"""…"""`')
        else:
            sink.error("E002", f"unexpected character `{text[pos]}`", Span(file, pos, pos + 1),
                       "not part of any token", help="statements need no `;`; comments start with `#`")
        return _line_start(text, pos)
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        _report_eof(err, text, file, sink)
        return None
    assert isinstance(err, UnexpectedToken)
    tok = err.token
    pos = tok.start_pos or 0
    span = Span(file, pos, tok.end_pos or pos + len(str(tok)))
    expected = set(err.expected)
    if "EQUAL" in expected and tok.type in {"NUMBER", "STRING", "MLSTRING", "LSQB"}:
        sink.error("E011", "missing `=` between a name and its value", Span(file, pos, pos),
                   "expected `=` here", help="write `name = value`")
    else:
        sink.error("E001", f"unexpected `{tok}`", span, f"expected {_expected(expected)}")
    return _line_start(text, pos)


def _report_eof(err: UnexpectedInput, text: str, file: int, sink: Sink) -> None:
    opener = _unclosed_brace(text)
    if opener is not None:
        sink.error("E010", "missing closing `}`", Span(file, opener, opener + 1),
                   "this block is never closed", help="add `}` at the end of the block")
    else:
        end = len(text.rstrip())
        expected = set(getattr(err, "expected", ()) or ())
        sink.error("E003", "unexpected end of file", Span(file, end, end),
                   f"expected {_expected(expected)}" if expected else "input ends here")


def _unclosed_brace(text: str) -> int | None:
    stack: list[int] = []
    code = re.sub(r'"""(.|\n)*?"""|"([^"\\\n]|\\.)*"|#[^\n]*', lambda m: " " * len(m.group()), text)
    for i, ch in enumerate(code):
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            stack.pop()
    return stack[-1] if stack else None


@v_args(meta=True, inline=True)
class _ToAst(Transformer[Token, tuple[ast.Item, ...]]):
    """Builds AST nodes, one method per grammar rule. Never raises; decoding problems of string
    literals go to the sink (they are lexical errors lark cannot see)."""

    def __init__(self, file: int, sink: Sink) -> None:
        super().__init__()
        self.file = file
        self.sink = sink
        self.string_spans: list[tuple[int, int]] = []

    def _span(self, meta: Any) -> Span:
        return Span(self.file, meta.start_pos, meta.end_pos)

    def _tok(self, tok: Token) -> Span:
        return Span(self.file, tok.start_pos or 0, tok.end_pos or 0)

    def start(self, meta: Any, *items: Any) -> tuple[ast.Item, ...]:
        return tuple(i for i in items if not _is_recovered(i))

    def attribute(self, meta: Any, key: tuple[str, Span], value: ast.Expr) -> ast.Attribute:
        return ast.Attribute(key=key[0], value=value, key_span=key[1], span=self._span(meta))

    def name_key(self, meta: Any, tok: Token) -> tuple[str, Span]:
        return str(tok), self._tok(tok)

    def string_key(self, meta: Any, tok: Token) -> tuple[str, Span]:
        return self._string(tok).value, self._tok(tok)

    def block(self, meta: Any, kind: Token, name: Token | None, *items: Any) -> ast.Block:
        return ast.Block(
            kind=str(kind), name=str(name) if name is not None else None,
            items=tuple(i for i in items if not _is_recovered(i)),
            kind_span=self._tok(kind), name_span=self._tok(name) if name is not None else self._tok(kind),
            span=self._span(meta),
        )

    def declaration(self, meta: Any, kind: Token, name: Token, value: ast.Expr) -> ast.Declaration:
        return ast.Declaration(kind=str(kind), name=str(name), value=value, kind_span=self._tok(kind),
                               name_span=self._tok(name), span=self._span(meta))

    def directive(self, meta: Any, kind: Token, arg: Token) -> ast.Directive:
        return ast.Directive(kind=str(kind), arg=self._string(arg), kind_span=self._tok(kind), span=self._span(meta))

    def range_expr(self, meta: Any, lo: ast.Expr, hi: ast.Expr) -> ast.RangeExpr:
        return ast.RangeExpr(lo=lo, hi=hi, span=self._span(meta))

    def string(self, meta: Any, tok: Token) -> ast.Str:
        return self._string(tok)

    def number(self, meta: Any, tok: Token) -> ast.Num:
        value = read_number(str(tok))
        if value is None:
            self.sink.error("E014", "number out of range", self._tok(tok), "too large to represent",
                            help="integers must fit in 64 bits and other numbers must be finite")
            value = 0
        return ast.Num(value=value, span=self._tok(tok))

    def ref(self, meta: Any, *parts: Token) -> ast.Ref:
        return ast.Ref(parts=tuple(str(p) for p in parts), span=self._span(meta))

    def call(self, meta: Any, callee: ast.Ref, *args: Any) -> ast.Call:
        built = tuple(a if isinstance(a, ast.Arg) else ast.Arg(name=None, value=a, span=a.span)
                      for a in args if a is not None)
        return ast.Call(callee=callee, args=built, span=self._span(meta))

    def kwarg(self, meta: Any, name: Token, value: ast.Expr) -> ast.Arg:
        return ast.Arg(name=str(name), value=value, span=self._span(meta))

    def list(self, meta: Any, *items: Any) -> ast.ListExpr:
        return ast.ListExpr(items=tuple(i for i in items if i is not None), span=self._span(meta))

    def _string(self, tok: Token) -> ast.Str:
        span = self._tok(tok)
        self.string_spans.append((span.start, span.end))
        try:
            value, _ = decode(str(tok))
        except DecodeError as err:
            at = span.start + err.offset
            self.sink.error("E005", str(err), Span(self.file, at, at + 2), "not an escape",
                            help='use \\n \\t \\r \\" \\\\ or \\uXXXX, or a """triple-quoted""" string')
            value = ""
        return ast.Str(value=value, triple=str(tok).startswith('"""'), span=span)


def _is_recovered(item: Any) -> bool:
    # Lines blanked by error recovery leave `_ {` placeholders: they carry no meaning.
    return isinstance(item, ast.Block) and item.kind == "_"
