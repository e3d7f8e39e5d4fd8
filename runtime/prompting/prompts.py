"""What a prompt template's fixed text says about where a generated example ends.

A base model in completion mode does not stop by itself: after its answer it writes the next
example of the pattern — a separator, then the template's fixed text again ("Write a summary
for…"). Two uses of the compiled template's literal text (its Jinja TemplateData nodes):

- `example_stops`: stop sequences that end a row where its example ends: the demos' separator
  (what follows an answer inside the prompt), the first fixed line of the demo and of the prompt
  on a new line (the next example starting), and the answer prefix on a new line (the next
  answer starting). Only for free text in completion mode; the recipe's own `stop`s come first.
- `cut_echo`: the parse step never keeps prompt text the model echoed: a completion is cut at
  the first line that starts with a fixed line of the prompt, system or demo template, or that
  contains a long fixed fragment of it (a mid-line piece such as ". The summary should be…").

Values rendered into a prompt are no fixed text, yet some must never appear in a row either: a
label's verbalization ("about scientific discoveries, technological advancements…") and the
instruction a conversation inserts (its diversity prompt). `value_echo` / `find_value_echo`
find a run of ECHO_WORDS consecutive words of such a value (the whole value when shorter, if at
least MIN_VALUE_WORDS long: one-word verbalizations such as "positive" are ordinary words); the
filter step drops such rows as `echo.label`.

The fixed-text markers miss short fixed pieces joined by values ("Write a " + "positive" + " film
review for a " + "comedy" …): `prompt_echo` indexes the row's *rendered* instruction (system and
prompt) minus every window that also occurs in the data rendered into it (seed, demos, retrieved
document, persona), so a row that repeats PROMPT_ECHO_WORDS words of the instruction is dropped
(`echo.template`) while a faithful rewrite of a retrieved document is not.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from jinja2 import nodes

from synthc.compiler import ir
from synthc.compiler.templates import environment
from synthc.runtime.filters.shingles import ShingleIndex, shingles, words

__all__ = ["Literals", "literals", "example_stops", "Echo", "echo_markers", "cut_echo", "is_free_text",
           "ValueEcho", "value_echo", "find_value_echo", "forbidden_values", "PROMPT_ECHO_WORDS", "prompt_echo"]

MIN_LINE = 8  # a fixed line shorter than this ("A:", "Q:") is too common to call an echo
MIN_FRAGMENT = 25  # a mid-line fragment this long is matched anywhere in the text
ECHO_WORDS = 5  # a run of this many words of a forbidden value is an echo of it
MIN_VALUE_WORDS = 3  # shorter values ("positive", "World") are ordinary words, never an echo
PROMPT_ECHO_WORDS = 6  # a run of this many words of the rendered instruction (not of its data) is an echo


@dataclass(frozen=True, slots=True)
class Literals:
    """A template's fixed text: the literal pieces in order, and whether it starts/ends with one."""

    pieces: tuple[str, ...]
    leading: str  # literal text before the first expression or tag ("" when it starts with one)
    trailing: str  # literal text after the last expression or tag


@functools.lru_cache(maxsize=256)
def literals(text: str) -> Literals:
    """The fixed text of a template.

    >>> lit = literals("Write about {{ topic }}.\\nSummary: ")
    >>> lit.leading, lit.trailing
    ('Write about ', '.\\nSummary: ')
    """
    tree = environment().parse(text)
    pieces = tuple(n.data for n in tree.find_all(nodes.TemplateData))
    body = tree.body
    first = body[0].nodes[0] if body and isinstance(body[0], nodes.Output) and body[0].nodes else None
    last = body[-1].nodes[-1] if body and isinstance(body[-1], nodes.Output) and body[-1].nodes else None
    leading = first.data if isinstance(first, nodes.TemplateData) else ""
    trailing = last.data if isinstance(last, nodes.TemplateData) else ""
    return Literals(pieces, leading, trailing)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.split("\n") if line.strip()), "")


def _last_line(text: str) -> str:
    return next((line.strip() for line in reversed(text.split("\n")) if line.strip()), "")


def is_free_text(v: ir.Variant) -> bool:
    return not v.output.structured


def example_stops(v: ir.Variant, model: ir.Model) -> tuple[str, ...]:
    """Stop sequences that end a completion-mode row where its example ends (see the module doc)."""
    if model.mode != "completion" or not is_free_text(v):
        return ()
    return _stops(v.prompt.text, v.fewshot.demo.text if v.fewshot else None,
                  v.fewshot.separator if v.fewshot else None)


@functools.lru_cache(maxsize=64)
def _stops(prompt: str, demo: str | None, separator: str | None) -> tuple[str, ...]:
    found: list[str] = []
    lit = literals(prompt)
    if demo is not None and separator is not None:
        end = literals(demo).trailing + separator
        if "\n" in end or end.strip():  # never a lone space: it would end every row at once
            found.append(end)
        found.append("\n" + _first_line(literals(demo).leading))
    found.append("\n" + next((_first_line(p) for p in lit.pieces if p.strip()), ""))
    found.append("\n" + _last_line(lit.trailing))  # the answer prefix, e.g. "Summary:"
    out: list[str] = []
    for stop in found:
        if stop.strip() and len(stop.strip()) < 3:
            continue
        if stop and stop not in out and stop != "\n":
            out.append(stop)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Echo:
    lines: tuple[str, ...]  # fixed lines that begin a line of the template (matched at a line start)
    fragments: tuple[str, ...]  # long fixed fragments (matched anywhere)


def echo_markers(v: ir.Variant) -> Echo:
    """The fixed text of the variant's prompt, system and demo templates, as echo markers. With
    `parse.split`, the answer prefix separates pieces on purpose and is no echo."""
    texts = [v.prompt.text] + ([v.system.text] if v.system else []) + ([v.fewshot.demo.text] if v.fewshot else [])
    skip = v.parse.prefix.strip() if v.parse.prefix and v.parse.split else None
    return _markers(tuple(texts), skip)


@functools.lru_cache(maxsize=64)
def _markers(texts: tuple[str, ...], skip: str | None) -> Echo:
    lines: list[str] = []
    fragments: list[str] = []
    for text in texts:
        lit = literals(text)
        for k, piece in enumerate(lit.pieces):
            parts = piece.split("\n")
            at_start = k == 0 and piece == lit.leading  # the template's first piece starts a line
            for n, part in enumerate(parts):
                s = part.strip().lstrip(".,;:!?)] ")  # a mid-line piece starts after a value: ". The…"
                if not s or s == skip:
                    continue
                if (n > 0 or at_start) and len(s) >= MIN_LINE and s not in lines:
                    lines.append(s)
                elif len(s) >= MIN_FRAGMENT and s not in fragments:
                    fragments.append(s)
    return Echo(tuple(lines), tuple(fragments))


def cut_echo(text: str, echo: Echo) -> tuple[str, bool]:
    """`text` up to the first echoed fixed text, and whether there was one."""
    cut = len(text)
    offset = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped and any(stripped.startswith(m) for m in echo.lines):
            cut = min(cut, offset)
            break
        offset += len(line) + 1
    for frag in echo.fragments:
        at = text.find(frag)
        if at != -1:
            cut = min(cut, at)
    return (text, False) if cut == len(text) else (text[:cut], True)


@dataclass(frozen=True, slots=True)
class ValueEcho:
    """Word windows of the values a row must not repeat: window length -> window -> the value."""

    windows: tuple[tuple[int, dict[tuple[str, ...], str]], ...]


def forbidden_values(v: ir.Variant, program: ir.Program) -> tuple[str, ...]:
    """Rendered values no row of `v` may contain: every label's verbalization (an echo of another
    label's is no better) and a conversation's diversity prompt."""
    out: list[str] = []
    if v.labels is not None:
        out += [lb.verbalization for lb in program.label_set(v.labels).labels]
    if v.conversation is not None:
        out.append(v.conversation.diversity_prompt)
    return tuple(dict.fromkeys(out))


@functools.lru_cache(maxsize=64)
def value_echo(values: tuple[str, ...]) -> ValueEcho:
    by_n: dict[int, dict[tuple[str, ...], str]] = {}
    for value in values:
        w = words(value)
        if len(w) < MIN_VALUE_WORDS:
            continue
        n = min(ECHO_WORDS, len(w))
        table = by_n.setdefault(n, {})
        for i in range(len(w) - n + 1):
            table.setdefault(tuple(w[i:i + n]), value)
    return ValueEcho(tuple(sorted(by_n.items())))


def find_value_echo(text: str, echo: ValueEcho) -> tuple[str, str] | None:
    """(the value, the words of it the text repeats), or None.

    >>> find_value_echo("A story about scientific discoveries, technological advances.",
    ...                 value_echo(("about scientific discoveries technological advances, research",)))
    ('about scientific discoveries technological advances, research', 'about scientific discoveries technological advances')
    """
    if not echo.windows:
        return None
    w = words(text)
    for n, table in echo.windows:
        for i in range(len(w) - n + 1):
            value = table.get(tuple(w[i:i + n]))
            if value is not None:
                return value, " ".join(w[i:i + n])
    return None


def prompt_echo(instruction: tuple[str, ...], data: tuple[str, ...]) -> ShingleIndex:
    """Word windows of the rendered instruction that are not windows of the data rendered into it."""
    index = ShingleIndex.build(instruction, PROMPT_ECHO_WORDS)
    for text in data:
        for _, h in shingles(words(text), PROMPT_ECHO_WORDS):
            index.first.pop(h, None)
    return index
