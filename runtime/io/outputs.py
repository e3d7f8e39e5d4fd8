"""An export's files committed as a unit, and the rule that synthc only replaces files it wrote.

Commit protocol (write all, then switch):
1. every file of the set (data files, dataset card, manifest) is written to a temp file beside its
   target (`runtime/writers.write_temp`), fsynced;
2. a journal `.synthc/commits/<recipe>.<export>.json` lists the (temp, target) pairs and the files this
   export owned before and no longer writes; it is written atomically: from here the set is
   committed;
3. the temps are renamed over their targets, data first, `manifest.json` last; dropped files are
   removed; the journal is deleted.
A kill before step 2 leaves only temps, which the next run deletes (`recover`); a kill during step
3 leaves a journal, which the next run completes before doing anything else. A reader can check
a set by the manifest: it is switched last and names every file with its sha256.

Ownership: `manifest.json` records the recipe and export that wrote the folder and every file they
own. A target that exists and is not owned by this recipe's export — a hand-written README.md, the
recipe itself, another recipe's dataset — is never replaced (E523/E524, before anything is written).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from synthc.compiler.source import Span
from synthc.runtime.errors import fail
from synthc.runtime.io.writers import clean_stale_temps, write_atomic, write_temp

__all__ = ["Owner", "ExportSet", "recover", "check_targets", "read_manifest", "owned_files", "shown", "MANIFEST", "CARD"]

MANIFEST = "manifest.json"
CARD = "README.md"


@dataclass(frozen=True, slots=True)
class Owner:
    """Who writes a folder: a recipe (absolute, symlinks resolved) and one of its exports."""

    recipe: str
    export: str

    def record(self, directory: str) -> dict[str, str]:
        """As stored in the manifest: the recipe relative to the folder (a moved project stays its owner)."""
        return {"recipe": os.path.relpath(self.recipe, directory).replace(os.sep, "/"), "export": self.export}

    def owns(self, manifest: dict[str, Any], directory: str) -> bool:
        if manifest.get("export") != self.export:
            return False
        recipe = manifest.get("recipe")
        if not isinstance(recipe, str):  # a manifest from before ownership was recorded: the export name decides
            return True
        return os.path.realpath(os.path.join(directory, recipe)) == self.recipe


def shown(path: str) -> str:
    """A path the user can paste: relative to the current directory when it is below it."""
    rel = os.path.relpath(path)
    return os.path.abspath(path) if rel.startswith(os.path.join(os.pardir, os.pardir, os.pardir)) else rel


def read_manifest(directory: str) -> dict[str, Any] | None:
    """A synthc manifest in `directory`, or None (absent, unreadable, or not a synthc manifest)."""
    try:
        with open(os.path.join(directory, MANIFEST), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "schema_version" in data and "export" in data else None


def owned_files(manifest: dict[str, Any]) -> dict[str, str | None]:
    """Files (relative to the manifest's folder) a manifest owns → their recorded sha256."""
    files = manifest.get("files")
    out: dict[str, str | None] = {CARD: None, MANIFEST: None}
    if isinstance(files, dict):
        for name, meta in files.items():
            out[str(name)] = meta.get("sha256") if isinstance(meta, dict) else None
    return out


def check_targets(directory: str, targets: list[str], owner: Owner, inputs: frozenset[str], origin: Span) -> dict[str, str | None]:
    """Refuse before writing when a target is an input of the build, belongs to another recipe or
    export, or exists and was not written by synthc. Returns what this export owned before."""
    for t in targets:
        if os.path.realpath(t) in inputs:
            raise fail("E524", f"the export would overwrite {shown(t)}, which this build reads", origin,
                       "export declared here", help="choose an output `path` outside the recipe's inputs")
    manifest = read_manifest(directory)
    previous: dict[str, str | None] = {}
    if manifest is not None:
        if not owner.owns(manifest, directory):
            recipe = manifest.get("recipe")
            where = os.path.realpath(os.path.join(directory, recipe)) if isinstance(recipe, str) else None
            whose = ("this recipe" if where == owner.recipe else f"recipe {shown(where)}") if where else "an older build"
            raise fail("E523", f"{shown(directory)} holds the dataset of export `{manifest.get('export')}` of "
                       f"{whose}; export `{owner.export}` would overwrite its card and manifest", origin,
                       "export declared here", help="give each export a folder of its own, e.g. out/<recipe>/<export>/")
        previous = owned_files(manifest)
    for t in targets:
        rel = os.path.relpath(t, directory).replace(os.sep, "/")
        if os.path.lexists(t) and rel not in previous:
            raise fail("E524", f"{shown(t)} exists and was not written by this export; synthc will not replace it",
                       origin, "export declared here",
                       help="choose another output `path`, or move the file away if it is disposable")
    return previous


@dataclass(slots=True)
class ExportSet:
    """The files of one export, staged as temps until `commit` switches them in together."""

    state_dir: str  # the recipe's .synthc/ (the journal lives there)
    name: str  # `<recipe file>.<export>`: one journal per export
    staged: list[tuple[str, str]] = field(default_factory=list)  # (temp, target)
    drop: list[str] = field(default_factory=list)  # files owned before and not written now

    def add(self, target: str, data: bytes) -> str:
        """Stage `data` for `target`; returns its sha256."""
        self.staged.append((write_temp(target, data), target))
        return hashlib.sha256(data).hexdigest()

    def commit(self) -> None:
        journal = _journal(self.state_dir, self.name)
        manifests = [p for p in self.staged if os.path.basename(p[1]) == MANIFEST]
        order = [p for p in self.staged if p not in manifests] + manifests  # the manifest switches last
        write_atomic(journal, json.dumps({"rename": order, "remove": self.drop}, indent=1).encode())
        _apply(journal)

    def abandon(self) -> None:
        for tmp, _ in self.staged:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        self.staged.clear()


def _journal(state_dir: str, name: str) -> str:
    return os.path.join(state_dir, "commits", f"{name}.json")


def _apply(journal: str) -> None:
    with open(journal, encoding="utf-8") as fh:
        plan = json.load(fh)
    for tmp, target in plan["rename"]:
        if os.path.exists(tmp):  # done already when a previous recovery was interrupted
            os.replace(tmp, target)
    for path in plan["remove"]:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    os.unlink(journal)


def recover(state_dir: str, directories: list[str]) -> list[str]:
    """Finish commits a killed build left half-switched, then delete temps no commit owns.
    Returns what it did, for the build log."""
    notes = []
    commits = os.path.join(state_dir, "commits")
    if os.path.isdir(commits):
        for name in sorted(os.listdir(commits)):
            if name.endswith(".json"):
                try:
                    _apply(os.path.join(commits, name))
                except (OSError, ValueError, KeyError, TypeError):
                    os.unlink(os.path.join(commits, name))  # unreadable: its temps go below
                    continue
                notes.append(f"completed the interrupted commit of {name[:-5]} (recipe.export)")
    for d in sorted(set(directories)):
        for p in clean_stale_temps(d):
            notes.append(f"removed {shown(p)}, left by an interrupted build")
    return notes
