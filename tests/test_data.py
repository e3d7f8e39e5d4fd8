"""The repository carries its own data: nothing reads a folder outside the clone, every recipe's data
path resolves inside data/, and every data file agrees with its meta.json and data/README.md."""

from __future__ import annotations

import collections
import glob
import json
import os
import re
import subprocess

import pytest

from conftest import DATA, ROOT
from synthc.compiler import compile_file

# Spelled in pieces so that this file does not match itself.
_OUTSIDE = re.compile("|".join([r"\.\./" + "shared", "/work/" + "shared", r"""["']""" + "shared" + r"""["']\s*,\s*["']data""",
                                "shared" + "/data"]))
_FOLDERS = sorted(d for d in os.listdir(DATA) if os.path.isdir(os.path.join(DATA, d)))


def _tracked_files() -> list[str]:
    """The files a clone has (git's index; the working tree when this is not a git checkout)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        return [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", ".synthc", "out", "__pycache__", "node_modules"}
        return [os.path.relpath(os.path.join(d, f), ROOT) for d, dirs, files in os.walk(ROOT)
                for f in files if not (dirs.__setitem__(slice(None), [x for x in dirs if x not in skip]))]


def test_nothing_in_the_repository_reads_a_folder_beside_the_clone() -> None:
    hits = []
    for rel in _tracked_files():
        path = os.path.join(ROOT, rel)
        if rel.startswith("data/") and rel.endswith(".jsonl") or not os.path.isfile(path):
            continue  # the datasets themselves: human text, not paths
        try:
            text = open(path, encoding="utf-8").read()
        except UnicodeDecodeError:
            continue
        hits += [f"{rel}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}" for m in _OUTSIDE.finditer(text)]
    assert not hits, "paths outside the repository:\n" + "\n".join(hits)


RECIPES = sorted(glob.glob(os.path.join(ROOT, "examples", "*.synth")) + glob.glob(os.path.join(ROOT, "specs", "*.synth")))


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: os.path.relpath(p, ROOT))
def test_every_recipe_reads_data_inside_the_repository(recipe: str) -> None:
    result = compile_file(recipe)
    assert result.program is not None, result.diagnostics
    here = os.path.dirname(recipe)
    for item in (*result.program.sources, *result.program.corpora):
        path = os.path.realpath(os.path.join(here, item.path))
        assert path.startswith(os.path.realpath(DATA) + os.sep), f"{recipe}: {item.name} reads {item.path}"
        assert os.path.isfile(path), f"{recipe}: {item.name}: {item.path} is missing"


@pytest.mark.parametrize("name", _FOLDERS)
def test_each_dataset_matches_its_meta_and_readme(name: str) -> None:
    folder = os.path.join(DATA, name)
    meta = json.load(open(os.path.join(folder, "meta.json"), encoding="utf-8"))
    readme = open(os.path.join(DATA, "README.md"), encoding="utf-8").read()
    assert f"## `{name}/`" in readme and "**Licence as stated.**" in readme.split(f"## `{name}/`")[1]
    files = sorted(f for f in os.listdir(folder) if f.endswith(".jsonl"))
    assert files == sorted(meta["files"])
    for fname, info in meta["files"].items():
        rows = [json.loads(line) for line in open(os.path.join(folder, fname), encoding="utf-8")]
        assert len(rows) == info["rows"], fname
        assert len({r["id"] for r in rows}) == len(rows), f"{fname}: duplicate ids"
        if "label_counts" in info:
            assert dict(collections.Counter(r["label"] for r in rows)) == info["label_counts"], fname
            assert set(info["label_counts"]) <= set(meta["labels"])
        if fname == "corpus.jsonl":
            assert all("label" not in r for r in rows)


def test_stackexchange_sample_is_closed_under_its_references() -> None:
    se = os.path.join(DATA, "stackexchange")
    qs, ans, users = ([json.loads(line) for line in open(os.path.join(se, f), encoding="utf-8")]
                      for f in ("questions.jsonl", "answers.jsonl", "users.jsonl"))
    qsplit = {q["id"]: q["split"] for q in qs}
    user_ids = {u["id"] for u in users}
    assert all(a["question_id"] in qsplit and a["split"] == qsplit[a["question_id"]] for a in ans)
    answer_ids = {a["id"] for a in ans}
    assert all(q["accepted_answer_id"] in answer_ids for q in qs if q["accepted_answer_id"])
    assert all(q["asker_id"] in user_ids for q in qs if q["asker_id"])
    assert all(a["author_id"] in user_ids for a in ans if a["author_id"])
