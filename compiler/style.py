"""Terminal colours for what synthc prints (diagnostics, help): one palette, ANSI SGR codes.

Whether to colour is the caller's decision (the CLI: a terminal, NO_COLOR unset); with colour off
every function here returns its text unchanged, so plain output stays byte-identical.
"""

from __future__ import annotations

__all__ = ["PALETTE", "paint"]

PALETTE: dict[str, str] = {
    "error": "1;31",  # bold red
    "warning": "1;33",  # bold yellow
    "message": "1",  # bold
    "gutter": "1;34",  # bold blue: line numbers, `|`, `-->`
    "primary": "1;31",  # carets under an error's span
    "secondary": "1;34",  # `---` under related spans
    "help": "1;36",  # bold cyan
    "note": "1",
    "heading": "1;4",  # bold underlined: help section titles
    "command": "32",  # green: example commands
    "usage": "1;35",  # bold magenta
}


def paint(text: str, role: str, color: bool) -> str:
    if not color or not text:
        return text
    return f"\x1b[{PALETTE[role]}m{text}\x1b[0m"
