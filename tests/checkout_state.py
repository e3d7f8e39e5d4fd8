"""The user's state in the checkout that tests must never read or change: every `.synthc/` cache,
`out/` folder and `*.lock` file under the repository (outside .git and virtual environments).
A run of the suite leaves all of them byte-identical (conftest's session check), and tests that
build, plan, show or diff a recipe of the repository do it on a copy (`checkout_copy`)."""

from __future__ import annotations

import hashlib
import os
import shutil

__all__ = ["STATE_DIRS", "state_digest", "copy_recipes"]

STATE_DIRS = (".synthc", "out")  # a recipe's cache, and the outputs the examples write
_SKIP = {".git", ".venv", "venv", "node_modules", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def state_digest(root: str) -> dict[str, str]:
    """Relative path -> a stamp (`_stamp`) of every state file under `root`; a state folder's
    presence counts too."""
    out: dict[str, str] = {}
    for base, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP and not d.endswith(".egg-info"))
        rel_base = os.path.relpath(base, root)
        parts = set(rel_base.split(os.sep))
        inside = bool(parts & set(STATE_DIRS))
        for d in dirs:
            if d in STATE_DIRS and not inside:
                out[os.path.normpath(os.path.join(rel_base, d)) + os.sep] = "folder"
        for f in files:
            if inside or f.endswith(".lock"):
                path = os.path.join(base, f)
                out[os.path.relpath(path, root)] = _stamp(path)
    return out


def _stamp(path: str) -> str:
    """Size and modification time, plus the sha256 of a small file: a user's cache can be hundreds of
    megabytes, and any write to it (even of the same bytes) moves its mtime."""
    try:
        st = os.stat(path)
        if st.st_size > 1 << 20:
            return f"{st.st_size}:{st.st_mtime_ns}"
        with open(path, "rb") as fh:
            return f"{st.st_mtime_ns}:{hashlib.sha256(fh.read()).hexdigest()}"
    except OSError:  # a socket, or a file removed meanwhile: its presence still counts
        return "unreadable"


def copy_recipes(root: str, dest: str, data: str) -> str:
    """`examples/`, `specs/` and the test fixtures' recipes of `root` in `dest`, without any state
    (.synthc/, out/), data/ linked (read only) and allowed by the copy's synth.toml; returns dest."""
    ignore = shutil.ignore_patterns(*STATE_DIRS, "__pycache__")
    for rel in ("examples", "specs", os.path.join("tests", "diagnostics"), os.path.join("tests", "recipes")):
        shutil.copytree(os.path.join(root, rel), os.path.join(dest, rel), ignore=ignore)
    os.symlink(data, os.path.join(dest, "data"))
    with open(os.path.join(dest, "synth.toml"), "w", encoding="utf-8") as fh:
        fh.write(f'[paths]\nallow = ["{data}"]\n')
    return dest
