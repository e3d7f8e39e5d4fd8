"""`template`: fixed text and several constrained fields in one generation.

    output {
      template = "Question: {question}\nAnswer: {answer}\nTopic: {topic}"
      question = string(chars = 10..200)
      answer   = string(chars = 1..300)
      topic    = label()
    }

The model writes the whole template; the fixed text is forced (not sampled), each `{field}` is
generated under its own type's constraint, and the answer is parsed back into one column per
field. Every field type that may sit in a template is a regular language (a `string` is one line),
so the template is also one regular expression: what servers are sent, what answers are checked
against and what parses them (`pattern`). `{{` and `}}` are literal braces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from synthc.compiler.fields import STR, Field
from synthc.compiler.outputs.base import OutputKind
from synthc.compiler.source import Span
from synthc.compiler.symbols import did_you_mean

if TYPE_CHECKING:
    from synthc.compiler import ir
    from synthc.compiler.rules import Report
    from synthc.compiler.values import Variant

__all__ = ["Template", "Piece", "split", "field_pattern", "pattern", "escape", "IN_TEMPLATE"]

# Field types a template can hold: each is a regular language (`list` and `object` are not).
IN_TEMPLATE = ("string", "label", "choice", "regex", "int", "float", "bool")
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")
_META = frozenset("\\.^$|?*+()[]{}")


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of fixed text (`field` empty) or one `{field}` placeholder."""

    text: str = ""
    field: str = ""
    at: tuple[int, int] = (0, 0)  # offsets of a placeholder in the template text (diagnostics)


def split(text: str) -> tuple[list[Piece], list[tuple[int, int]]]:
    """The pieces of a template, adjacent fixed text merged, and where its stray braces are."""
    pieces: list[Piece] = []
    stray: list[tuple[int, int]] = []
    literal, at = [], 0
    for m in _TOKEN.finditer(text):
        literal.append(text[at:m.start()])
        at = m.end()
        token = m.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
        elif m.group(1):
            if "".join(literal):
                pieces.append(Piece(text="".join(literal)))
            literal = []
            pieces.append(Piece(field=m.group(1), at=m.span()))
        else:
            stray.append(m.span())
            literal.append(token)
    literal.append(text[at:])
    if "".join(literal):
        pieces.append(Piece(text="".join(literal)))
    return pieces, stray


def escape(text: str) -> str:
    """`text` as a regex literal in the syntax Python, Rust (llguidance) and ECMA share: only the
    metacharacters escaped (`re.escape` also escapes `-`, `#`, spaces in older versions …)."""
    return "".join("\\" + ch if ch in _META else ch for ch in text)


def field_pattern(f: ir.OutputField, labels: tuple[str, ...] | None) -> str:
    """The regular expression one field of a template matches (no groups, any regex dialect).
    `labels` None: any one line for a label (parsing an answer already generated under them)."""
    args = dict(f.args)
    if f.type == "label" and labels is None:
        return "[^\\n]+?"
    if f.type in ("label", "choice"):
        options = labels if f.type == "label" and labels is not None else tuple(args["options"])
        return "(?:" + "|".join(escape(o) for o in options) + ")"
    if f.type == "regex":
        return str(args["pattern"])  # grouped where it is joined (`pattern`)
    if f.type == "bool":
        return "(?:true|false)"
    if f.type in ("int", "float"):
        lo, hi = args.get("range", (-(10**9), 10**9))
        sign = "-?" if lo < 0 else ""
        digits = len(str(int(max(abs(lo), abs(hi)))))
        frac = r"(?:\.[0-9]{1,6})?" if f.type == "float" else ""
        return f"{sign}[0-9]{{1,{digits}}}{frac}"
    lo, hi = string_chars(args)
    return f"[^\\n]{{{lo},{hi}}}"


def string_chars(args: dict[str, Any]) -> tuple[int, int]:
    """How many characters a template `string` field may take: `chars`, or about 8 per word of
    `words`, else up to 400 (one line; the token cap bounds it anyway)."""
    if "chars" in args:
        lo, hi = int(args["chars"][0]), int(args["chars"][1])
    elif "words" in args:
        lo, hi = int(args["words"][0]), int(args["words"][1]) * 8
    else:
        lo, hi = 1, 400
    return max(1, lo), max(1, lo, hi)  # never empty: an empty answer is no answer


def pattern(output: ir.Output, labels: tuple[str, ...] | None, named: bool = True) -> str:
    """The whole template as one regular expression; `named`: each field a `(?P<name>…)` group
    (Python, for parsing), else a plain group (what servers are sent)."""
    assert output.template is not None
    fields = {f.name: f for f in output.fields}
    out = []
    for part in output.template:
        if not part.field:
            out.append(escape(part.text))
        else:
            group = f"(?P<{part.field}>" if named else "("
            out.append(group + field_pattern(fields[part.field], labels) + ")")
    return "".join(out)


def _check(v: Variant, r: Report) -> None:
    """E233 (a placeholder naming no field, a stray brace), E234 (a field not placed exactly once),
    E235 (a field a template cannot hold where it stands)."""
    out = v.blocks.get("output")
    if out is None or "template" not in out.values:
        return
    text, span = str(out.values["template"]), out.spans["template"]
    values = {k: val for k, (val, _) in out.open.items()}
    types = {k: val[0] for k, val in values.items()}
    spans = {k: s for k, (_, s) in out.open.items()}
    for key, child in out.children.items():
        types[key.split(":", 1)[1]], spans[key.split(":", 1)[1]] = "object", child.origin
    pieces, stray = split(text)
    placed = [p.field for p in pieces if p.field]
    for p in pieces:
        if p.field and p.field not in types:
            r.once("E233", f"the output template of {v.label} names `{{{p.field}}}`, which is no output field",
                   _inside(span, text, p.at), f"`{{{p.field}}}` is not declared", help=did_you_mean(p.field, types)
                   or (f"output fields: {', '.join(types)}" if types else f"declare it, e.g. `{p.field} = string()`"))
    for at in stray:
        r.once("E233", f"stray `{text[at[0]]}` in the output template of {v.label}", _inside(span, text, at),
               "unmatched brace", help="write `{field}` for a field, `{{` or `}}` for a literal brace")
    if not placed:
        r.once("E233", f"the output template of {v.label} has no `{{field}}`", span, "no field in it",
               help="place each output field in the template, e.g. `\"Answer: {answer}\"`")
    for name, where in spans.items():
        n = placed.count(name)
        if n != 1:
            r.once("E234", f"output field `{name}` of {v.label} is {'not in' if n == 0 else 'placed twice in'} "
                   "its template", where, "not in the template" if n == 0 else "placed twice",
                   help=f"write `{{{name}}}` exactly once in `template`" + (", or remove the field" if n == 0 else ""))
    for i, p in enumerate(pieces):
        if not p.field or p.field not in types:
            continue
        t, nxt = types[p.field], pieces[i + 1] if i + 1 < len(pieces) else None
        if t not in IN_TEMPLATE:
            r.once("E235", f"a `{t}` field cannot go in an output template ({v.label})", spans[p.field],
                   f"`{p.field}` is a {t}", help=f"template fields are one of {', '.join(IN_TEMPLATE)}; "
                   "use a JSON output (no `template`) for lists and objects")
        elif nxt is not None and nxt.field:
            r.once("E235", f"`{{{p.field}}}` and `{{{nxt.field}}}` follow each other with no fixed text between "
                   f"them in the output template of {v.label}", _inside(span, text, nxt.at), "no text before it",
                   help="separate them with fixed text, e.g. `{a}\\n{b}`, so each answer ends somewhere")
        elif t == "regex" and _anchored(str(dict(values[p.field][1]).get("pattern", ""))):
            r.once("E235", f"regex field `{p.field}` of {v.label} is anchored (`^`, `$`, `\\A` or `\\Z`), but "
                   "it stands inside the output template", spans[p.field], "an anchor inside a template",
                   help="drop the anchors: the template's fixed text around the field already says where it "
                   "starts and ends")
        elif t == "string" and nxt is not None and not nxt.text.startswith("\n"):
            r.once("E235", f"string field `{p.field}` of {v.label} does not end its line in the output template",
                   spans[p.field], "a string is one line", help=f"start the text after `{{{p.field}}}` with a line "
                   "break (`\\n`), or make the field a `regex(...)` that says where it ends")


def _anchored(pattern: str) -> bool:
    """Whether `pattern` holds an anchor (`^` or `$` outside a character class, `\\A`, `\\Z`): joined
    into the template's one regex, it could never match there, and every row would be dropped."""
    in_class = escaped = False
    for i, ch in enumerate(pattern):
        if escaped:
            escaped = False
            if ch in "AZ" and not in_class:
                return True
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]" or pattern[i - 1] == "["  # `[]...]`: a leading `]` is a member
        elif ch == "[":
            in_class = True
        elif ch in "^$":
            return True
    return False


def _inside(literal: Span, text: str, at: tuple[int, int]) -> Span:
    """The span of `text[at[0]:at[1]]` inside the string literal that holds `text`: exact when the
    literal's characters are the text's (a triple-quoted string, or one without escapes), else the
    whole literal."""
    quote = {len(text) + 6: 3, len(text) + 2: 1}.get(literal.end - literal.start)
    if quote is None:
        return literal
    return Span(literal.file, literal.start + quote + at[0], literal.start + quote + at[1])


class Template(OutputKind):
    name = "template"
    doc = "`template = \"…{field}…\"`: fixed text and several constrained fields in one generation"
    what = "a template of fixed text and fields"
    settings = (Field("template", STR, doc="fixed text and `{field}`s generated as one: each field under its own "
                                           "type, parsed back into its column (a `string` field ends its line)"),)
    rules = (_check,)

    def claims(self, types: tuple[str, ...], template: bool) -> bool:
        return template
