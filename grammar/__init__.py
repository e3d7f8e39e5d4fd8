"""The .synth grammar: `parser()` returns the memoized LALR parser for `synth.lark`."""

from __future__ import annotations

import functools

from lark import Lark

__all__ = ["parser"]


@functools.cache
def parser(cache: bool = True) -> Lark:
    """The LALR parser; `strict=True` turns any shift/reduce conflict into a load-time error.
    `cache=False` builds it from the grammar file: only such a parser carries `.grammar` (what
    hypothesis's `from_lark` walks); one loaded from lark's cache does not.

    >>> parser().parse('a = 1').data
    'start'
    """
    return Lark.open_from_package(
        __name__,
        "synth.lark",
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=True,
        strict=True,
        # the LALR tables from lark's cache in the temp dir (keyed by grammar, options and lark's
        # version; rebuilt when absent or damaged): a second of every `synthc` start otherwise
        cache=cache,
    )
