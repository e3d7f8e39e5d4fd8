"""The registered output kinds, in the order they are asked to claim an output (the first wins;
`json` claims whatever is left, so it comes last)."""

from __future__ import annotations

from synthc.compiler.outputs.base import OutputKind
from synthc.compiler.outputs.json import Json
from synthc.compiler.outputs.regex import Regex
from synthc.compiler.outputs.select import Select
from synthc.compiler.outputs.template import Template
from synthc.compiler.outputs.text import Text

__all__ = ["KINDS"]

KINDS: tuple[OutputKind, ...] = (Template(), Text(), Select(), Regex(), Json())
