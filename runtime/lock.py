"""synth.lock: what a build read (models, data files) and which tool versions ran it.
`--locked` refuses to build when anything drifted, and says exactly what."""

from __future__ import annotations

import json
import os
from importlib import metadata
from typing import Any

__all__ = ["LOCK_NAME", "lock_data", "read_lock", "diff_lock", "versions"]

LOCK_NAME = "synth.lock"


def versions() -> dict[str, str]:
    out = {}
    for dist in ("synthc", "llama-cpp-python", "guidance", "llguidance"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def lock_data(models: dict[str, dict[str, Any]], data: dict[str, str]) -> dict[str, Any]:
    return {"lock_version": 1, "models": models, "data": dict(sorted(data.items())), "versions": versions()}


def read_lock(spec_dir: str) -> dict[str, Any] | None:
    path = os.path.join(spec_dir, LOCK_NAME)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)  # type: ignore[no-any-return]


def diff_lock(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Readable differences: `- key: old` / `+ key: new` lines."""
    lines: list[str] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            lines += diff_lock(a, b, name + ".")
        elif a != b:
            if a is not None:
                lines.append(f"- {name}: {a}")
            if b is not None:
                lines.append(f"+ {name}: {b}")
    return lines
