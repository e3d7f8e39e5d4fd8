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

# -- the user's state in the checkout --------------------------------------------------------------
# Tests never read or change `.synthc/`, `out/` or lockfiles in the checkout: a build, plan, show or
# diff of a repository recipe runs on `checkout_copy`; the session fails if any of that state changed.
_STATE_BEFORE: dict[str, str] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    from checkout_state import state_digest

    _STATE_BEFORE.update(state_digest(ROOT))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from checkout_state import state_digest

    after = state_digest(ROOT)
    changed = sorted(k for k in set(_STATE_BEFORE) | set(after) if _STATE_BEFORE.get(k) != after.get(k))
    if changed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        text = "tests changed the checkout's state (.synthc/, out/, *.lock): " + ", ".join(changed[:20])
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(text, red=True)
        else:
            print(text, file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def checkout_copy(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of the repository's recipes (examples/, specs/, tests/diagnostics, tests/recipes) with
    no `.synthc/`, `out/` of the user's, reading data/ in place: run commands with cwd here."""
    from checkout_state import copy_recipes

    return copy_recipes(ROOT, str(tmp_path_factory.mktemp("checkout")), DATA)

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

