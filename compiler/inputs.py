"""Pre-flight over the IR's file references: every data file, data folder and model file a recipe
reads must exist and be readable, so `synthc check` says so before the expensive step (as `dbt
debug` does). One diagnostic per distinct path, at the path's own line and column.

This pass reads the file system, so it runs only for recipes compiled from a file (their relative
paths mean something); `compile_text` and the language server skip it. The runtime still reports a
file that disappears between check and build as E503.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from synthc.compiler import ir
from synthc.compiler.diagnostics import Sink
from synthc.compiler.lower import HF_PREFIX
from synthc.compiler.source import Span

__all__ = ["InputRef", "input_refs", "check_inputs"]


@dataclass(frozen=True, slots=True)
class InputRef:
    """One file or folder the recipe reads."""

    what: str  # "data file" | "data folder" | "dataset folder" | "model file"
    path: str  # as in the IR: relative to the main spec's directory (or absolute)
    folder: bool  # a folder is expected (text corpora, dataset folders)
    origin: Span


def input_refs(program: ir.Program) -> Iterator[InputRef]:
    for m in program.models:
        if m.gguf_kind == "path":
            yield InputRef("model file", m.gguf, False, m.path_origin)
    for d in (*program.sources, *program.corpora):
        if d.path.startswith(HF_PREFIX):
            continue  # a dataset in the Hugging Face cache: looked up (offline) when it is loaded
        folder = d.format in ("text", "hf")
        what = "dataset folder" if d.format == "hf" else "data folder" if folder else "data file"
        yield InputRef(what, d.path, folder, d.path_origin)


def check_inputs(program: ir.Program, sink: Sink) -> None:
    seen: set[str] = set()
    for ref in input_refs(program):
        full = ref.path if os.path.isabs(ref.path) else os.path.normpath(os.path.join(program.root, ref.path))
        if full in seen:
            continue
        seen.add(full)
        problem = _problem(full, ref.folder)
        if problem is not None:
            label, help = problem
            sink.error("E410", f"{ref.what} {label}: {ref.path}", ref.origin, f"{label}: {full}", help=help)


def _problem(path: str, folder: bool) -> tuple[str, str] | None:
    """(what is wrong, how to fix it), or None when the path can be read."""
    rel_help = "paths are relative to the file that names them"
    if not os.path.exists(path):
        parent = os.path.dirname(path)
        near = _similar(path) if os.path.isdir(parent) else None
        return "not found", f"did you mean `{near}`?" if near else rel_help
    if folder:
        if not os.path.isdir(path):
            return "is not a folder", "`format = \"text\"` reads every .txt/.md file under a folder"
        try:
            os.listdir(path)
        except OSError as err:
            return f"cannot be read ({err.strerror})", "check the folder's permissions"
        return None
    if os.path.isdir(path):
        return "is a folder", 'name a file, or a folder of text files with `format = "text"`'
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as err:
        return f"cannot be read ({err.strerror})", "check the file's permissions"
    return None


def _similar(path: str) -> str | None:
    """A sibling whose name differs only in case or extension (`train.json` for `train.jsonl`)."""
    parent, name = os.path.split(path)
    stem = os.path.splitext(name)[0].lower()
    for other in sorted(os.listdir(parent)):
        if other != name and (other.lower() == name.lower() or os.path.splitext(other)[0].lower() == stem):
            return other
    return None
