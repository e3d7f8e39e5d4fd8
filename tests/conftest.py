"""Test options: --update-golden rewrites golden dumps and snapshots (review the diff)."""

from __future__ import annotations

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "data")  # the datasets the repository carries (data/README.md)

# The user cache (the ONNX export of the embedder, runtime/eval/embed.py) is user state: tests, and
# the builds they start, use one under the system's temp dir, shared by runs so it exports once.
os.environ.setdefault("SYNTHC_CACHE_DIR", os.path.join(__import__("tempfile").gettempdir(), "synthc-test-cache"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files and snapshots")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def compare_golden(path: str, actual: str, update: bool) -> None:
    if update or not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(actual)
        if not update:
            pytest.fail(f"golden file {path} was missing and has been written; rerun")
        return
    with open(path, encoding="utf-8") as fh:
        expected = fh.read()
    assert actual == expected, f"{path} differs; rerun with --update-golden and review the diff"


sys.modules.setdefault("synthc_tests_conftest", sys.modules[__name__])

def scratch_recipe(source: str, tmp: str, data_prefix: str) -> str:
    """A test recipe copied into a scratch project whose synth.toml allows the repository's data/;
    `data_prefix` (the recipe's own spelling of its data folder) is rewritten to that folder."""
    with open(source, encoding="utf-8") as fh:
        text = fh.read().replace(f'"{data_prefix}', '"' + os.path.join(DATA, ""))
    path = os.path.join(tmp, os.path.basename(source))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    with open(os.path.join(tmp, "synth.toml"), "w", encoding="utf-8") as fh:
        fh.write(f'[paths]\nallow = ["{DATA}"]\n')
    return path

