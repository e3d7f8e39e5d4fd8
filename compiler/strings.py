"""Decoding string literals, with a map from each decoded character back to its source offset
(so a Jinja error inside a dedented triple-quoted prompt still points at the right column)."""

from __future__ import annotations

__all__ = ["decode", "encode", "encode_plain", "DecodeError"]

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "/": "/"}


class DecodeError(ValueError):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset  # relative to the start of the literal


def decode(raw: str) -> tuple[str, list[int]]:
    """Decode a literal as written (with its quotes); returns (value, source offset of each char).

    >>> decode('"a\\\\nb"')[0]
    'a\\nb'
    >>> decode('\"\"\"\\n    hi\\n      there\\n  \"\"\"')[0]
    'hi\\n  there'
    """
    if raw.startswith('"""'):
        return _decode_triple(raw)
    return _decode_plain(raw)


def _decode_plain(raw: str) -> tuple[str, list[int]]:
    out: list[str] = []
    offsets: list[int] = []
    i, end = 1, len(raw) - 1
    while i < end:
        ch = raw[i]
        if ch != "\\":
            out.append(ch)
            offsets.append(i)
            i += 1
            continue
        nxt = raw[i + 1] if i + 1 < end else ""
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            offsets.append(i)
            i += 2
        elif nxt == "u" and _is_hex(raw[i + 2 : i + 6]):
            code = int(raw[i + 2 : i + 6], 16)
            if 0xD800 <= code <= 0xDFFF:  # half of a UTF-16 pair: no character, cannot be written as UTF-8
                raise DecodeError(i, f"`\\u{raw[i + 2 : i + 6]}` is a lone surrogate, not a character")
            out.append(chr(code))
            offsets.append(i)
            i += 6
        else:
            raise DecodeError(i, f"invalid escape `\\{nxt}`")
    return "".join(out), offsets


def _is_hex(s: str) -> bool:
    return len(s) == 4 and all(c in "0123456789abcdefABCDEF" for c in s)


def _decode_triple(raw: str) -> tuple[str, list[int]]:
    # Lines of the body with their start offsets; a leading newline after the opening quotes and
    # a whitespace-only last line (the closing quotes' indentation) are layout, not content.
    body_start = 3
    body = raw[3:-3]
    lines: list[tuple[int, str]] = []
    pos = body_start
    for text in body.split("\n"):
        lines.append((pos, text))
        pos += len(text) + 1
    if len(lines) > 1 and lines[0][1] == "":
        lines = lines[1:]
    if len(lines) > 1 and lines[-1][1].strip(" \t") == "":
        lines = lines[:-1]
    indents = [len(t) - len(t.lstrip(" \t")) for _, t in lines if t.strip(" \t")]
    cut = min(indents) if indents else 0
    out: list[str] = []
    offsets: list[int] = []
    for n, (start, text) in enumerate(lines):
        if n:
            out.append("\n")
            offsets.append(start - 1)
        kept = text[cut:] if text.strip(" \t") else ""
        skip = len(text) - len(kept) if kept else len(text)
        for j, ch in enumerate(kept):
            out.append(ch)
            offsets.append(start + skip + j)
    return "".join(out), offsets


def encode(value: str, indent: str) -> str:
    """The canonical literal for `value`: triple-quoted (indented under `indent`) when it has
    several lines and round-trips exactly, else a `"…"` string with escapes."""
    lines = value.split("\n")
    # Triple quotes only where an editor cannot silently change the value: no trailing blanks
    # (editors strip them), no tabs or carriage returns, and some visible text.
    if len(lines) > 1 and value.strip() and not any(ln != ln.rstrip(" \t") or "\t" in ln or "\r" in ln for ln in lines):
        inner = indent + "  "
        body = "\n".join(inner + ln if ln else "" for ln in lines)
        candidate = f'"""\n{body}\n{indent}"""'
        if '"""' not in value and _decode_triple(candidate)[0] == value:
            return candidate
    return encode_plain(value)


def encode_plain(value: str) -> str:
    out = []
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 32:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'
