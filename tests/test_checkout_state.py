"""The guard that keeps tests off the user's state in the checkout (tests/checkout_state.py): what
it sees, and that the copy tests run commands in starts without the user's cache or outputs."""

from __future__ import annotations

import os
import shutil

from checkout_state import copy_recipes, state_digest
from conftest import DATA, ROOT


def _fake_checkout(tmp: str) -> str:
    root = os.path.join(tmp, "clone")
    for rel in ("examples", "specs", os.path.join("tests", "diagnostics"), os.path.join("tests", "recipes")):
        os.makedirs(os.path.join(root, rel))
    shutil.copy(os.path.join(ROOT, "examples", "quickstart.synth"), os.path.join(root, "examples"))
    with open(os.path.join(root, "examples", "quickstart.synth.lock"), "w", encoding="utf-8") as fh:
        fh.write("lock v1\n")
    os.makedirs(os.path.join(root, "examples", ".synthc"))  # README command 1 ran here
    with open(os.path.join(root, "examples", ".synthc", "cache.sqlite"), "wb") as fh:
        fh.write(b"the user's generations")
    os.makedirs(os.path.join(root, ".venv", "out"))  # never looked at
    return root


def test_the_digest_sees_caches_outputs_and_locks(tmp_path: str) -> None:
    root = _fake_checkout(str(tmp_path))
    before = state_digest(root)
    assert set(before) == {os.path.join("examples", ".synthc") + os.sep, os.path.join("examples", ".synthc", "cache.sqlite"),
                           os.path.join("examples", "quickstart.synth.lock")}
    with open(os.path.join(root, "examples", ".synthc", "cache.sqlite"), "ab") as fh:
        fh.write(b"+1 row")
    os.makedirs(os.path.join(root, "out", "quickstart"))
    with open(os.path.join(root, "examples", "quickstart.synth.lock"), "w", encoding="utf-8") as fh:
        fh.write("lock v2\n")
    after = state_digest(root)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed == {os.path.join("examples", ".synthc", "cache.sqlite"), "out" + os.sep,
                       os.path.join("examples", "quickstart.synth.lock")}


def test_the_copy_has_the_recipes_and_none_of_the_users_state(tmp_path: str) -> None:
    root = _fake_checkout(str(tmp_path))
    copy = copy_recipes(root, os.path.join(str(tmp_path), "copy"), DATA)
    assert os.path.isfile(os.path.join(copy, "examples", "quickstart.synth"))
    assert not os.path.exists(os.path.join(copy, "examples", ".synthc"))
    assert set(state_digest(copy)) == {os.path.join("examples", "quickstart.synth.lock")}  # the recipe's lock, a copy
