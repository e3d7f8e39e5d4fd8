"""The code registry: every code explained in the fixed sections, documented in docs/codes.md,
and triggered by at least one fixture (compile or runtime)."""

from __future__ import annotations

import glob
import os

from conftest import ROOT
from markers import header
from synthc.compiler.codes import CODES

# Codes no fixture can trigger, with the reason.
UNREACHABLE = {
    "E401": "plans are built from acyclic references; kept as a guard for future node kinds",
    "E999": "internal errors are bugs; exercised by test_cli.test_internal_error_is_coded",
    "E403": "a CLI selector error; exercised by test_runtime.test_select_matching_nothing",
    "E507": "needs a lockfile; exercised by test_runtime.test_locked_detects_drift",
    "E512": "needs a server that refuses; exercised by test_endpoint.test_unknown_model_and_refusals_are_e512_without_the_key",
    "E515": "needs a server with a small context; exercised by test_doctor.test_build_stops_early_when_the_server_context_is_smaller",
    "E516": "needs a server that ignores a constraint; exercised by test_doctor.test_a_server_that_ignores_constraints_is_e516",
    "E517": "needs a long recipe on a slow machine; exercised by test_doctor.test_slow_first_round_is_a_warning",
    "E535": "a `synthc show` selection error; exercised by test_show.test_selection_errors_are_coded",
    "E601": "a `synthc eval` input error; exercised by test_eval.test_eval_rejects_bad_inputs",
    "E013": "needs a file over 256 KiB; exercised by test_robustness (generated, not kept in git)",
    "E322": "needs a synth.toml of its own; exercised by test_paths.test_invalid_synth_toml_is_e322",
    "E701": "a command-line error; exercised by test_paths.test_command_line_errors_are_coded",
    "E702": "a command-line error; exercised by test_paths.test_command_line_errors_are_coded",
}


def test_every_code_has_the_three_sections() -> None:
    for code in CODES.values():
        for section in ("## What it means", "## Example", "## How to fix"):
            assert section in code.explanation, (code.id, section)


def test_every_code_has_a_fixture() -> None:
    names = {os.path.basename(p)[:4] for p in glob.glob(os.path.join(ROOT, "tests", "*", "E*.synth"))}
    names |= {header(p, "expect") for p in glob.glob(os.path.join(ROOT, "tests", "faults", "cases", "*.synth"))}
    missing = [c for c in CODES if c not in names and c not in UNREACHABLE]
    assert missing == []


def test_codes_doc_is_generated_from_the_registry() -> None:
    from synthc.compiler.codes import codes_markdown

    with open(os.path.join(ROOT, "docs", "codes.md"), encoding="utf-8") as fh:
        assert fh.read() == codes_markdown(), "regenerate: synthc explain --markdown > docs/codes.md"


def test_slugs_are_unique() -> None:
    slugs = [c.slug for c in CODES.values()]
    assert len(slugs) == len(set(slugs))
