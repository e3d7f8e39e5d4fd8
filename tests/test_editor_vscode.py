"""The VS Code extension under editors/vscode: the TextMate grammar tokenizes every recipe in
specs/ and examples/ as VS Code would (vscode-textmate + vscode-oniguruma, run by node) with no
untokenized text and scopes equal to the committed snapshots; the grammar's block kinds and
template keys are the schema's; the extension module starts `synthc lsp`; the .vsix packages.

Needs node and npm (CI installs the npm packages with `npm ci`; so does the first test here
when editors/vscode/node_modules is missing)."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import zipfile

import pytest

from conftest import ROOT
from synthc.compiler.schema import SCHEMAS

VSCODE = os.path.join(ROOT, "editors", "vscode")
GRAMMAR = os.path.join(VSCODE, "syntaxes", "synth.tmLanguage.json")

pytestmark = pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                                reason="node and npm are needed for the editor tests")


@pytest.fixture(scope="module")
def node_modules() -> str:
    path = os.path.join(VSCODE, "node_modules")
    if not os.path.isdir(os.path.join(path, "vscode-textmate")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=VSCODE, check=True, timeout=600,
                       capture_output=True)
    return path


def recipes() -> list[str]:
    found = glob.glob("specs/**/*.synth", root_dir=ROOT, recursive=True)
    found += glob.glob("examples/**/*.synth", root_dir=ROOT, recursive=True)
    found += glob.glob("editors/vscode/test/cases/*.synth", root_dir=ROOT)
    return sorted(found)


def _node(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", os.path.join(VSCODE, "test", script), *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=300)


def test_grammar_scopes_every_recipe(node_modules: str, update_golden: bool) -> None:
    files = recipes()
    assert any(f.startswith("specs/") for f in files) and any(f.startswith("examples/") for f in files)
    run = _node("grammar.test.js", "--root", ROOT, *(["--update"] if update_golden else []), *files)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{len(files)} file(s) tokenized, 0 problem(s)" in run.stdout


def _grammar() -> dict:  # type: ignore[type-arg]
    with open(GRAMMAR, encoding="utf-8") as fh:
        return json.load(fh)  # type: ignore[no-any-return]


def test_grammar_knows_the_schema() -> None:
    """Known block kinds and the keys whose strings hold Jinja are exactly the schema's."""
    repo = _grammar()["repository"]
    kinds = re.match(r"\\b\(\?:\(([a-z_|]+)\)", repo["block"]["begin"])
    assert kinds and set(kinds.group(1).split("|")) == set(SCHEMAS)
    keys = re.match(r"\\b\(([a-z_|]+)\)", repo["template-attribute"]["begin"])
    templates = {f.name for s in SCHEMAS.values() for f in s.fields if f.type.kind == "template"}
    assert keys and set(keys.group(1).split("|")) == templates


def test_language_configuration_and_manifest() -> None:
    with open(os.path.join(VSCODE, "package.json"), encoding="utf-8") as fh:
        pkg = json.load(fh)
    lang = pkg["contributes"]["languages"][0]
    assert lang["id"] == "synth" and lang["extensions"] == [".synth"]
    grammar = pkg["contributes"]["grammars"][0]
    assert grammar["scopeName"] == _grammar()["scopeName"] == "source.synth"
    for rel in (lang["configuration"], grammar["path"], pkg["main"]):
        assert os.path.exists(os.path.join(VSCODE, rel)), rel
    with open(os.path.join(VSCODE, "language-configuration.json"), encoding="utf-8") as fh:
        conf = json.load(fh)
    assert conf["comments"]["lineComment"] == "#"
    assert ["{", "}"] in conf["brackets"] and {"open": "{{", "close": " }}", "notIn": ["comment"]} in conf["autoClosingPairs"]
    assert pkg["contributes"]["configuration"]["properties"]["synthc.path"]["default"] == "synthc"


def test_extension_starts_synthc_lsp(node_modules: str) -> None:
    run = _node("extension.test.js")
    assert run.returncode == 0, run.stdout + run.stderr


def test_vsix_packages(node_modules: str, tmp_path: str) -> None:
    out = os.path.join(str(tmp_path), "synthc-synth.vsix")
    run = subprocess.run([os.path.join(node_modules, ".bin", "vsce"), "package", "--skip-license",
                          "--allow-missing-repository", "--out", out], cwd=VSCODE, text=True,
                         capture_output=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    names = set(zipfile.ZipFile(out).namelist())
    for member in ("extension/package.json", "extension/extension.js", "extension/language-configuration.json",
                   "extension/syntaxes/synth.tmLanguage.json",
                   "extension/node_modules/vscode-languageclient/node.js"):
        assert member in names, member
    assert not any(n.startswith("extension/test/") for n in names), "tests must not ship in the .vsix"
