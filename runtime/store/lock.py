"""The lock file: what a build read (models, data files) and which tool versions ran it.

A lock belongs to one recipe: `quickstart.synth.lock` beside `quickstart.synth`. `--locked`
compares the inputs with it while planning, before anything is written, and refuses (E507) when
anything drifted, saying exactly what; a build without `--locked` that changes the lock says so.

The lock describes the whole recipe, whatever part of it one build runs: a `--select` build (or
one whose evaluation is left out) hashes only what its nodes read, so the entries of the recipe's
other inputs are neither compared under `--locked` nor dropped when it writes the lock (`compared`,
`carried`). An entry of an input the recipe no longer declares is compared (it drifted) and dropped."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from synthc.compiler.paths import LOCK_SUFFIX

__all__ = ["lock_path", "lock_data", "read_lock", "diff_lock", "versions", "encode_lock", "keep_rates",
           "merge_keep_rates", "without_keep_rates", "KEEP_RATES", "Unread", "compared", "carried"]


def lock_path(recipe: str) -> str:
    """The lock of one recipe: the recipe's file name plus `.lock`, beside it (the compiler's
    `synthc plan` file list names it by the same suffix)."""
    return recipe + LOCK_SUFFIX


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


@dataclass(frozen=True, slots=True)
class Unread:
    """Inputs the recipe declares that one build did not read: data files by their recipe path,
    models by name."""

    data: frozenset[str] = frozenset()
    models: frozenset[str] = frozenset()

    def holds(self, section: str, key: str) -> bool:
        return key in (self.data if section == "data" else self.models if section == "models" else ())


def compared(lock: dict[str, Any], unread: Unread) -> dict[str, Any]:
    """`lock` without the entries of inputs this build did not read: what it can compare.

    >>> compared({"data": {"a": "1", "b": "2"}, "models": {"m": {}}}, Unread(frozenset({"b"})))
    {'data': {'a': '1'}, 'models': {'m': {}}}
    """
    return {k: {n: e for n, e in v.items() if not unread.holds(k, n)} if k in ("data", "models") else v
            for k, v in lock.items()}


def carried(lock: dict[str, Any] | None, new: dict[str, Any], unread: Unread) -> dict[str, Any]:
    """`new` (what this build read) with `lock`'s entries of the inputs it did not read carried over.

    >>> carried({"data": {"a": "1", "b": "2", "gone": "3"}}, {"data": {"a": "9"}}, Unread(frozenset({"b"})))
    {'data': {'a': '9', 'b': '2'}}
    """
    out = dict(new)
    for section in ("data", "models"):
        kept = {n: e for n, e in (lock or {}).get(section, {}).items() if unread.holds(section, n)}
        if kept:
            out[section] = dict(sorted((new.get(section, {}) | kept).items()))
    return out


def encode_lock(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def read_lock(path: str) -> dict[str, Any] | None:
    """The lock at `path`, None when there is none; ValueError when it is not a lock file."""
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or "lock_version" not in data:
        raise ValueError("not a synthc lock file")
    return data


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


# -- keep rates: what the quota loop plans a label's first round with (runtime/engine/quota.py) ---------
#
# `keep_rates` maps a variant id to {"basis": ..., "labels": {label: {"kept": k, "passed": p,
# "requests": r}}}: rows the filters kept, rows every filter but cartography kept, and requests one
# build measured. The next build plans each label's first round as ceil(aim / (p / r)), the aim
# being the rows cartography's fixed share leaves `wanted` of (runtime/engine/quota.py). An entry
# holds while its basis (the variant's first request and filter settings) is unchanged: a rebuild
# of the same spec with the same lock plans the same rows. An entry without `passed` (written before
# it was recorded) plans nothing: the next build measures it again. It is advice, not an input:
# `--locked` does not compare it.

KEEP_RATES = "keep_rates"


def keep_rates(lock: dict[str, Any] | None, variant: str, basis: str) -> dict[str, float] | None:
    """Each label's recorded pass rate of `variant` (rows every filter but cartography kept, per
    request), None when the lock has none for this basis."""
    entry = (lock or {}).get(KEEP_RATES, {}).get(variant)
    if not isinstance(entry, dict) or entry.get("basis") != basis:
        return None
    out = {}
    for label, m in entry.get("labels", {}).items():
        if m.get("requests", 0) > 0 and "passed" in m:
            out[label] = m["passed"] / m["requests"]
    return out or None


def merge_keep_rates(old: dict[str, Any] | None, measured: dict[str, dict[str, Any]],
                     variants: set[str]) -> dict[str, Any]:
    """The lock's keep rates after a build: an entry whose basis is unchanged stays as it was (so the
    lock, and the next build's plan, do not drift); a new or changed variant, or one recorded
    without `passed`, takes this build's figures; variants no longer in the recipe are left out."""
    out = {v: e for v, e in ((old or {}).get(KEEP_RATES, {}) or {}).items() if v in variants}
    for v, entry in measured.items():
        was = out.get(v, {})
        if was.get("basis") != entry["basis"] or not all("passed" in m for m in was.get("labels", {}).values()):
            out[v] = entry
    return dict(sorted(out.items()))


def without_keep_rates(lock: dict[str, Any]) -> dict[str, Any]:
    """A lock's inputs alone, as `--locked` compares them."""
    return {k: v for k, v in lock.items() if k != KEEP_RATES}
