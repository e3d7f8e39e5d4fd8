"""`synthc diff` and the cache-aware `synthc plan` on real edits of the paper recipes, on the fake
backend: one prompt word regenerates only that variant's rows; a shared retriever's change
regenerates every variant that retrieves through it; `plan` tells cached rows from new ones and
prices only the new; `--against REV` reads the recipe at a git revision."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess

import pytest

from conftest import DATA, ROOT
from synthc.cli import main
from synthc.compiler import compile_file, compile_text
from synthc.compiler.irdiff import diff_plans, word_diff
from synthc.runtime import execute
from synthc.runtime.preview.run import preview
from synthc.runtime.preview.changes import diff_recipes

AG = os.path.join(ROOT, "specs", "synthesizrr_ag_news.synth")
SMALL = {"seeds_per_label": "4", "per_label": "2"}
PROMPT_0 = 'variant SynthesizRR_0 {\n    prompt = """\n      News Article:\n      {{ doc.text }}\n\n      Summarize the above'
GEN = "generate:ag_news."
VARIANTS = ("FewGen_0", "FewGen_32", "SynthesizRR_0", "SynthesizRR_RETRICL_3", "SynthesizRR_RETRICL_3_completion",
            "SynthesizRR_nonRETRICL_32")
RETRIEVING = VARIANTS[2:]


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _write(path: str, text: str) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def one_word(text: str) -> str:
    assert PROMPT_0 in text
    return text.replace(PROMPT_0, PROMPT_0.replace("Summarize the above", "Condense the above"))


def shared_retriever(text: str) -> str:
    assert "k1     = 1.5" in text
    return text.replace("k1     = 1.5", "k1     = 0.3")


# -- the IR diff: no data needed --------------------------------------------------------------

def test_one_prompt_word_changes_one_render_node() -> None:
    old = compile_file(AG)
    new = compile_text(one_word(_read(AG)), AG)
    d = diff_plans(old.plan, new.plan)
    changed = [n for n in d.touched if n.status == "changed"]
    assert [n.node for n in changed] == ["render:ag_news.SynthesizRR_0"]
    (change,) = changed[0].changes
    assert change.path == "prompt" and change.template
    assert "[-Summarize-]{+Condense+}" in change.describe()
    assert d.node(GEN + "SynthesizRR_0").status == "upstream"
    assert d.node(GEN + "SynthesizRR_0").because[0] == "render:ag_news.SynthesizRR_0"
    assert all(d.node(GEN + v).status == "same" for v in VARIANTS if v != "SynthesizRR_0")


def test_shared_retriever_change_reaches_every_retrieving_variant() -> None:
    d = diff_plans(compile_file(AG).plan, compile_text(shared_retriever(_read(AG)), AG).plan)
    (index,) = [n for n in d.touched if n.status == "changed"]
    assert index.node == "index:retriever.news_bm25" and index.changes[0].describe() == "k1: 1.5 → 0.3"
    assert d.node("retrieve:ag_news").status == "upstream"
    assert {v for v in VARIANTS if d.node(GEN + v).status == "upstream"} == set(RETRIEVING)


def test_reformatting_and_comments_are_no_change() -> None:
    text = _read(AG)
    moved = "# a new comment\n" + text.replace("  k1     = 1.5\n", "  k1 = 1.5  # tuned\n")
    d = diff_plans(compile_file(AG).plan, compile_text(moved, AG).plan)
    assert d.touched == () and d.labels == () and d.params == ()


def test_label_and_quota_changes() -> None:
    text = _read(AG).replace('Sports     = "related to', 'Sports     = "about').replace(
        "param per_label = 2", "param per_label = 3")
    d = diff_plans(compile_file(AG).plan, compile_text(text, AG).plan)
    assert d.labels[0].label_set == "ag" and d.labels[0].reworded == ("Sports",)
    assert [c.describe() for c in d.params] == ["per_label: 2 → 3"]
    render = d.node("render:ag_news.FewGen_0")
    assert {c.path for c in render.changes} == {"per_label", "labels.Sports"}


def test_word_diff_shows_context() -> None:
    assert word_diff("a b c d e f g h i j k l", "a b c d e f X h i j k l", context=2) == "…e f [-g-]{+X+} h i…"


# -- rows: the real cache, on the fake backend --------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The AG News recipe, its data paths pointing at the real data, made small with real options:
    TF-IDF similarity bands (the default embeds with MiniLM, minutes on CI) widened to 0.1..0.9
    (TF-IDF cosines run lower), the first 3,000 documents; built on the fake backend."""
    d = tmp_path_factory.mktemp("ag") / "specs"
    d.mkdir()
    text = _read(AG).replace('"../data/', '"' + os.path.join(DATA, ""))
    edits = [("  b      = 0.75\n", "  b          = 0.75\n  similarity = tfidf\n"),
             ("  truncate_at = \".\"\n", "  truncate_at = \".\"\n  limit       = 3000\n"),
             ("similarity      = 0.4..0.9", "similarity      = 0.1..0.9"),
             # the build runs each variant's quota loop, whose counts would train the label oracle
             # and cartography's model again and again (minutes): rows, not filters, are tested here
             ("    label_oracle {\n      trained_on = ag_train\n      calibrate  = 0.1\n    }\n\n", ""),
             ("    screen          = true  # no row from a document the label oracle scores as another label's\n", ""),
             ("    cartography {\n      keep   = 0.83\n      epochs = 6\n    }\n", "")]
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    spec = _write(str(d / "synthesizrr_ag_news.synth"), text)
    _write(str(d.parent / "synth.toml"), f'[paths]\nallow = ["{DATA}"]\n')  # the project; its data outside
    result = compile_file(spec, SMALL)
    assert result.plan is not None, result.diagnostics
    # Through the filters: their quota loops size each label's first round and add later rounds,
    # all of which a preview of the same recipe finds in the cache.
    execute(result.plan, result.sources, quiet=True, backend="fake", select=["filter:ag_news." + v for v in VARIANTS])
    return spec


def _variant_rows(spec: str, text: str) -> dict[str, tuple[int, int]]:
    path = _write(os.path.join(os.path.dirname(spec), "edited.synth"), text)
    plan = compile_file(path, SMALL).plan
    found = preview(plan, backend="fake")
    assert not found.errors, found.errors
    return {n.split(".", 1)[1]: (rows.cached, rows.new) for n, rows in found.nodes.items()}


def test_unchanged_recipe_is_all_cached(built: str) -> None:
    rows = _variant_rows(built, _read(built))
    assert set(rows) == set(VARIANTS)
    assert all(new == 0 and cached > 0 for cached, new in rows.values()), rows


def test_one_prompt_word_regenerates_only_that_variant(built: str) -> None:
    rows = _variant_rows(built, one_word(_read(built)))
    assert rows["SynthesizRR_0"][0] == 0 and rows["SynthesizRR_0"][1] > 0
    assert all(rows[v][1] == 0 for v in VARIANTS if v != "SynthesizRR_0"), rows
    d = diff_recipes(compile_file(built, SMALL).plan,
                     compile_file(os.path.join(os.path.dirname(built), "edited.synth"), SMALL).plan,
                     "old", "new", backend="fake")
    by = {v.variant.split(".")[1]: v for v in d.variants}
    assert by["SynthesizRR_0"].regenerate == by["SynthesizRR_0"].generate == by["SynthesizRR_0"].new > 0
    assert by["SynthesizRR_0"].prompt_tokens > 0 and by["SynthesizRR_0"].seconds > 0
    assert all(by[v].regenerate == by[v].generate == 0 for v in VARIANTS if v != "SynthesizRR_0")
    assert d.generate == by["SynthesizRR_0"].generate


def test_shared_retriever_regenerates_every_dependent_variant(built: str) -> None:
    rows = _variant_rows(built, shared_retriever(_read(built)))
    assert all(rows[v][1] > 0 for v in RETRIEVING), rows
    assert rows["FewGen_0"][1] == rows["FewGen_32"][1] == 0


def test_a_remembered_retrieval_needs_no_index(built: str) -> None:
    """The retrieve node's memo answers: the on-disk index is not even opened."""
    index = os.path.join(os.path.dirname(built), ".synthc", "index")
    moved = index + ".away"
    os.rename(index, moved)
    try:
        rows = _variant_rows(built, _read(built))
        assert all(new == 0 for _, new in rows.values()) and not os.path.exists(index)
    finally:
        os.rename(moved, index)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out, err), out.getvalue(), err.getvalue()


def test_plan_marks_cached_rows_and_prices_only_new_ones(built: str) -> None:
    code, before, _ = run("plan", built, "--backend", "fake", "--tokens", *_sets())
    assert code == 0
    assert before.count("cache: all ") == len(VARIANTS) and "nothing to generate" in before
    assert "requests cached, 0 new; ≈ 0 s to generate the new ones" in before
    edited = _write(os.path.join(os.path.dirname(built), "edited.synth"), one_word(_read(built)))
    code, after, _ = run("plan", edited, "--backend", "fake", "--tokens", *_sets())
    assert code == 0 and after != before
    line = after.split(GEN + "SynthesizRR_0", 1)[1].splitlines()[2]
    assert "cache: 0 cached," in line and "prompt tokens" in line and "≈" in line
    code, out, _ = run("plan", edited, "--backend", "fake", "--json", *_sets())
    nodes = {n["id"]: n for n in json.loads(out)["nodes"]}
    assert nodes[GEN + "SynthesizRR_0"]["cache"]["cached"] == 0
    assert nodes[GEN + "FewGen_0"]["cache"]["new"] == 0


def _sets() -> list[str]:
    return [arg for k, v in SMALL.items() for arg in ("--set", f"{k}={v}")]


def test_diff_cli_against_a_git_revision(built: str) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = os.path.dirname(os.path.dirname(built))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", repo], check=True)
    subprocess.run(git + ["-C", repo, "add", "specs/synthesizrr_ag_news.synth"], check=True)
    subprocess.run(git + ["-C", repo, "commit", "-qm", "recipe"], check=True)
    original = _read(built)
    try:
        _write(built, one_word(original))
        code, out, err = run("diff", built, "--against", "HEAD", "--json", "--backend", "fake", *_sets())
        assert code == 0, err
        data = json.loads(out)
        assert data["schema_version"] == 1 and data["old"].endswith("@HEAD")
        by = {v["variant"]: v for v in data["variants"]}
        assert by["ag_news.SynthesizRR_0"]["generate"] > 0 and by["ag_news.FewGen_0"]["generate"] == 0
        assert [n["node"] for n in data["nodes"] if n["status"] == "changed"] == ["render:ag_news.SynthesizRR_0"]
        code, md, _ = run("diff", built, "--against", "HEAD", "--markdown", "--backend", "fake", *_sets())
        assert code == 0 and "| `ag_news.SynthesizRR_0` |" in md and "<details>" in md
        code, txt, _ = run("diff", built, "--against", "HEAD", "--backend", "fake", "--no-rows", *_sets())
        assert code == 0 and "changed  render:ag_news.SynthesizRR_0" in txt
        code, _, err = run("diff", built, "--against", "no-such-rev")
        assert code == 1 and "cannot read" in err and "Traceback" not in err
    finally:
        _write(built, original)


def test_diff_usage_errors(tmp_path: str) -> None:
    code, _, err = run("diff", AG)
    assert code == 1 and "OLD NEW, or SPEC --against REV" in err
    code, _, err = run("diff", AG, os.path.join(str(tmp_path), "missing.synth"))
    assert code == 1 and "no such file" in err
    broken = os.path.join(ROOT, "tests", "diagnostics", "E101_undefined_reference.synth")
    code, _, err = run("diff", AG, broken, "--no-rows", "--format", "concise")
    assert code == 1 and "error[E101]" in err and "does not compile" in err
