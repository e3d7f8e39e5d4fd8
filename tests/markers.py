"""Inline markers in fixture files: `# error[E101]` on the line the diagnostic points at,
`# error[E105]@15` for another line (inside a multi-line string), `# error[E110]@-` for a
diagnostic without a location. `# warning[E311]` for warnings. Header lines `# args: ...`
pass CLI-style `--set` overrides; `# backend: llama` picks the runtime backend."""

from __future__ import annotations

import os
import re

MARK = re.compile(r"#\s*(error|warning)\[(E\d{3})\](?:@(\d+|-))?")


def expected(paths: list[str]) -> set[tuple[str, int | None, str, str]]:
    out = set()
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                for m in MARK.finditer(line):
                    where = m.group(3)
                    line_no = None if where == "-" else int(where) if where else n
                    out.add((os.path.basename(path) if line_no is not None else "", line_no, m.group(2), m.group(1)))
    return out


def actual(diags: list, sources) -> set[tuple[str, int | None, str, str]]:
    out = set()
    for d in diags:
        src = sources.get(d.span.file)
        if src is None:
            out.add(("", None, d.code.id, d.severity.value))
        else:
            out.add((os.path.basename(src.path), src.line_col(d.span.start)[0], d.code.id, d.severity.value))
    return out


def header(path: str, key: str) -> str | None:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            m = re.match(rf"#\s*{key}:\s*(.*)", line)
            if m:
                return m.group(1).strip()
    return None


def overrides(path: str) -> dict[str, str]:
    args = header(path, "args") or ""
    out = {}
    for m in re.finditer(r"--set\s+(\w+)=(\S+)", args):
        out[m.group(1)] = m.group(2)
    return out
