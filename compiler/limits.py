"""The compiler's and the template renderer's resource limits: the one place they are set.

A language server feeds the compiler every half-typed keystroke, and recipes are shared in git, so
no text may crash, hang or exhaust memory. Each limit is far above what a person writes and far
below what Python's recursion limit, `int()`'s digit limit or the machine's memory allow; crossing
one is a coded diagnostic at the offending line and column, never an exception.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "MAX_SOURCE_CHARS", "MAX_TOKENS", "MAX_RECOVERY_CHARS", "MAX_NESTING", "MAX_TEMPLATE_DEPTH", "MAX_TEMPLATE_TOKENS", "MAX_ROWS", "MAX_INT", "MAX_NUMBER_CHARS",
    "MAX_RENDER_CHARS", "MAX_RENDER_ITERATIONS", "MAX_RANGE", "MAX_EXPONENT", "MAX_INT_BITS", "MAX_CALL_DEPTH",
    "read_number",
]

# A recipe (or an imported file) larger than this is refused (E013): the largest spec in the
# repository is ~5 KB; 256 KiB leaves room for generated recipes and long embedded prompts while
# one parse stays under a second or two on a slow machine.
MAX_SOURCE_CHARS = 1 << 18

# Tokens in one file (E013): the parser's time grows with them (about 20,000 a second on a slow,
# loaded machine); the largest recipe in the repository has ~1,500.
MAX_TOKENS = 1 << 16

# Error recovery re-parses the file once per syntax error; it stops after this many characters
# parsed in all (so a large file full of errors still answers quickly) or MAX_RECOVERIES errors.
MAX_RECOVERY_CHARS = 1 << 20

# `{`, `[` and `(` open at once in a recipe (E012). Real recipes nest blocks 3-4 deep.
MAX_NESTING = 32

# Depth of a template's syntax tree and of its open brackets and blocks (E012). Jinja's parser and
# code generator recurse per level and Python refuses generated code nested ~100 deep.
MAX_TEMPLATE_DEPTH = 32

# Rows a task, a sample or a corpus may ask for (E204), per label or in all: far beyond any real
# dataset (a bigger one is several builds or tasks), far below the counts that would make planning
# allocate unbounded memory (`per_label = 2**62`). docs/security.md quotes it; a test keeps them equal.
MAX_ROWS = 1_000_000

# Tokens in one template (E013): Jinja lexes and parses each; a prompt has a few hundred.
MAX_TEMPLATE_TOKENS = 20_000

# Number literals (E014): integers within 64 bits, floats finite. `int()` refuses more than 4300
# digits and `float()` of a larger integer overflows, so the text is measured before converting.
MAX_INT = 2**63 - 1
MAX_NUMBER_CHARS = 400

# Rendering one template (E520 at run time). A prompt is a few thousand characters; these stop a
# template such as `{{ "x" * 10**9 }}` or nested loops long before memory or time run out.
MAX_RENDER_CHARS = 1_000_000  # the rendered text, and any string or list a template builds
MAX_RENDER_ITERATIONS = 100_000  # loop iterations of one render, all loops together
MAX_RANGE = 10_000  # items of one `range()`
MAX_EXPONENT = 64  # `a ** b` with an integer result: |b| beyond this is refused
MAX_INT_BITS = 4096  # integers a template computes (repeated squaring grows them without bound)
MAX_CALL_DEPTH = 20  # macros and recursive loops calling each other

_INT = re.compile(r"-?[0-9]+")


def read_number(text: str) -> int | float | None:
    """The value of a number literal, or None when it is out of range (never raises).

    >>> read_number("42"), read_number("-1.5e3"), read_number("9" * 30), read_number("1e999")
    (42, -1500.0, None, None)
    """
    if len(text) > MAX_NUMBER_CHARS:
        return None
    if _INT.fullmatch(text):
        value = int(text)
        return value if -MAX_INT - 1 <= value <= MAX_INT else None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
