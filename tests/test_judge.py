"""The `judge` filter (issue 22): a model scores each parsed row through the scheduler, cached per
row; rows failing `keep` are dropped as `judge`; scores in provenance, distribution in the card.
Fake-backend builds are deterministic; one `model` test asks the real SmolLM2 for a few scores."""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from conftest import DATA
from synthc.compiler import ir

RECIPE = """
model writer {{ gguf = builtin("smollm2-135m") }}
model critic {{
  gguf = builtin("smollm2-135m")
  mode = {mode}
}}
labels s {{
  not_sarcastic = "a plain, factual news headline"
  sarcastic     = "a sarcastic, satirical news headline"
}}
task t {{
  labels    = s
  model     = writer
  per_label = {per_label}
  attempts  = 1
  prompt    = "Write a headline, {{{{ verbalization }}}}."
  filter {{
    judge {{
      model  = critic
      rubric = \"\"\"A good row reads like a real headline of its intended kind.\"\"\"
      scale  = 1..5
      keep   = ">= 3"
    }}
  }}
}}
export e {{
  task = t
  path = "out/rows.jsonl"
}}
"""


def _project(tmp: str, per_label: int = 6, mode: str = "chat") -> str:
    spec = os.path.join(tmp, "r.synth")
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write(RECIPE.format(per_label=per_label, mode=mode))
    with open(os.path.join(tmp, "synth.toml"), "w", encoding="utf-8") as fh:
        fh.write(f'[paths]\nallow = ["{DATA}"]\n')
    return spec


def _build(spec: str, backend: str = "fake", events: str | None = None) -> str:
    from synthc.compiler import compile_file
    from synthc.runtime import execute

    result = compile_file(spec)
    assert result.plan is not None, result.diagnostics
    return execute(result.plan, result.sources, quiet=True, backend=backend, events=events)


def _out(spec: str) -> tuple[dict, list[dict], str]:
    out = os.path.join(os.path.dirname(spec), "out")
    manifest = json.load(open(os.path.join(out, "manifest.json"), encoding="utf-8"))
    rows = [json.loads(x) for x in open(os.path.join(out, "rows.jsonl"), encoding="utf-8")]
    return manifest, rows, open(os.path.join(out, "README.md"), encoding="utf-8").read()


def test_judge_lowers_and_plans_its_own_node(tmp_path: str) -> None:
    from synthc.compiler import compile_file

    result = compile_file(_project(str(tmp_path)))
    assert result.plan is not None, result.diagnostics
    (v,) = result.program.task("t").variants
    assert v.filter.judge == ir.Judge(model="critic", rubric="A good row reads like a real headline of its intended kind.",
                                      scale=(1, 5), keep_op=">=", keep_score=3)
    plan = result.plan
    assert plan.step("judge:t.default").kind == "judge"
    assert plan.inputs("judge:t.default") == [("candidates", "parse:t.default")]
    assert ("candidates", "judge:t.default") in plan.inputs("filter:t.default")
    assert "judge >=3" in plan.step("filter:t.default").summary


def test_judge_drops_rows_below_keep_and_records_scores(tmp_path: str) -> None:
    spec = _project(str(tmp_path))
    log = os.path.join(str(tmp_path), "events.jsonl")
    _build(spec, events=log)
    manifest, rows, card = _out(spec)
    dist = manifest["judge_scores"]["default"]
    judged = sum(n for c in dist.values() for n in c.values())
    below = sum(n for c in dist.values() for s, n in c.items() if int(s) < 3)
    assert judged > 0 and below > 0, dist  # the fake's scores spread over the scale
    assert sum(manifest["dropped"]["default"].get(k, 0) for k in ("judge",)) == below
    by_label = Counter()
    for label, reasons in manifest["dropped_by_label"]["default"].items():
        by_label[label] += reasons.get("judge", 0)
    assert by_label == Counter({lb: sum(n for s, n in c.items() if int(s) < 3) for lb, c in dist.items()}) - Counter()
    assert rows and all(r["provenance"]["scores"]["judge"] >= 3 for r in rows)
    assert all(r["provenance"]["judge"]["model"] == "critic" and len(r["provenance"]["judge"]["key"]) >= 32
               for r in rows)
    assert "## Judge scores per variant and label" in card and "judge" in card
    assert all(f"| default | {label} | " in card for label in dist)
    events = [json.loads(x) for x in open(log, encoding="utf-8")]
    drops = [e for e in events if e["event"] == "row_dropped" and e["reason"] == "judge"]
    assert len(drops) == below and all("fails >= 3" in e["detail"] for e in drops)


def test_rebuild_is_fully_cached_and_byte_identical(tmp_path: str) -> None:
    spec = _project(str(tmp_path))
    first = _build(spec)
    out = os.path.join(str(tmp_path), "out", "rows.jsonl")
    before = open(out, "rb").read()
    again = _build(spec)
    assert " 0 generated," in again, again
    assert open(out, "rb").read() == before
    assert "generated" in first and " 0 generated," not in first


def test_quota_rounds_count_the_judges_drops(tmp_path: str) -> None:
    spec = _project(str(tmp_path), per_label=4)
    with open(spec, encoding="utf-8") as fh:
        text = fh.read().replace("attempts  = 1", "attempts  = 4")
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write(text)
    _build(spec)
    manifest, rows, _ = _out(spec)
    quota = manifest["quota"]["default"]
    assert manifest["dropped"]["default"]["judge"] > 0
    assert all(q["met"] and q["requests"] > 4 for q in quota.values()), quota  # more rounds made up the drops
    assert Counter(r["label"] for r in rows) == {"not_sarcastic": 4, "sarcastic": 4}
    assert "judge.unknown" not in manifest.get("kept_unscored", {}).get("default", {})


def test_judge_request_is_a_select_over_the_scale(tmp_path: str) -> None:
    from synthc.compiler import compile_file
    from synthc.runtime.prompting.judge import judge_request
    from synthc.runtime.prompting.postprocess import Candidate
    from synthc.runtime.prompting.rows import Planned

    result = compile_file(_project(str(tmp_path), mode="completion"))
    (v,) = result.program.task("t").variants
    c = Candidate(key="sarcastic/0", text="Local man wins.", label="sarcastic", fields={}, provenance={},
                  row=Planned(key="sarcastic/0", label="sarcastic"))
    req, _ = judge_request(v.filter.judge, v, result.program, c, 7)
    assert req.constraint.kind == "select" and req.constraint.options == ("1", "2", "3", "4", "5")
    assert req.mode == "completion" and len(req.messages) == 1 and req.temperature == 0.0
    (_, text), = req.messages
    assert "Local man wins." in text and "a sarcastic, satirical news headline" in text and "real headline" in text


@pytest.mark.model
def test_real_model_answers_on_the_scale(tmp_path: str) -> None:
    """SmolLM2 scores three rows through the llama backend: every answer is one of the scale's."""
    from synthc.compiler import compile_file
    from synthc.runtime.prompting.judge import judge_request, score_of
    from synthc.runtime.models.load import ModelPool
    from synthc.runtime.prompting.postprocess import Candidate
    from synthc.runtime.prompting.rows import Planned

    result = compile_file(_project(str(tmp_path)))
    (v,) = result.program.task("t").variants
    j = v.filter.judge
    rows = [("sarcastic", "Area man heroically finishes entire sandwich before noon."),
            ("not_sarcastic", "Central bank raises interest rates by a quarter point."),
            ("sarcastic", "Here is a headline for you: I hope this helps!")]
    requests = [judge_request(j, v, result.program, Candidate(key=f"{lb}/{k}", text=text, label=lb, fields={},
                                                             provenance={}, row=Planned(key=f"{lb}/{k}", label=lb)), k)[0]
                for k, (lb, text) in enumerate(rows)]
    backend = ModelPool(result.program, str(tmp_path), "llama").get("critic")
    answers = backend.generate_batch(requests)
    assert [score_of(j, a.text) is not None for a in answers] == [True] * 3, [a.text for a in answers]


def test_show_prints_the_judges_prompt(tmp_path: str) -> None:
    import io

    from synthc.cli import main

    spec = _project(str(tmp_path))

    def show(*extra: str) -> dict:
        out, err = io.StringIO(), io.StringIO()
        assert main(["show", spec, "--backend", "fake", "--json", *extra], out, err) == 0, err.getvalue()
        return json.loads(out.getvalue())["rows"][0]

    before = show()["judge"]
    assert before["options"] == ["1", "2", "3", "4", "5"]
    assert "[the row's text: not generated yet]" in before["messages"][-1]["content"]
    _build(spec)
    after = show()
    text = after["judge"]["messages"][-1]["content"]
    assert "not generated yet" not in text and "Text: " in text


def test_editor_offers_the_judge_block_from_the_registry() -> None:
    from synthc.compiler.schema import SCHEMAS
    from synthc.lsp.complete import _block_item

    assert "judge" in SCHEMAS["filter"].blocks  # the filter kinds' registry fills the schema table
    item = _block_item("judge", top=False)
    assert item.insert_text == 'judge {\n\tmodel = ${1}\n\trubric = "${2}"\n\tkeep = "${3}"\n}'


def test_every_filter_kind_has_a_runtime_hook_and_a_place() -> None:
    from synthc.compiler.filters import KINDS, card_reasons, in_order
    from synthc.runtime.filters.pipeline import HOOKS

    assert set(HOOKS) == {k.name for k in KINDS}
    assert len({k.order for k in KINDS}) == len(KINDS)
    assert [k.name for k in in_order()][-3:] == ["dedupe", "label_oracle", "cartography"]
    assert card_reasons() == ("words", "echo.label", "near_copy", "fluency", "judge", "dedupe.*", "oracle", "cartography")


def test_a_judge_on_a_server_that_cannot_select_is_refused(tmp_path: str) -> None:
    from synthc.compiler import compile_text

    src = RECIPE.format(per_label=1, mode="completion").replace(
        'gguf = builtin("smollm2-135m")\n  mode = completion', 'endpoint = "http://127.0.0.1:9/v1"\n  mode = completion')
    result = compile_text(src, os.path.join(str(tmp_path), "r.synth"))
    codes = [d.code.id for d in result.diagnostics]
    assert codes == ["E315"], result.diagnostics


def test_plan_counts_the_judges_requests(tmp_path: str) -> None:
    """`synthc plan` runs the build against the cache (runtime/preview/run.py): the judge's scores
    are requests of their own, counted on the judge node's line and in the totals — one per row
    that reaches it before a build, all cached after one."""
    import io

    from synthc.cli import main

    spec = _project(str(tmp_path), per_label=2)

    def plan() -> dict:
        out, err = io.StringIO(), io.StringIO()
        assert main(["plan", spec, "--backend", "fake", "--tokens", "--json"], out, err) == 0, err.getvalue()
        return {n["id"]: n.get("cache") for n in json.loads(out.getvalue())["nodes"]}

    before = plan()
    gen, judge = before["generate:t.default"], before["judge:t.default"]
    assert gen["new"] == gen["rows"] >= 4 and judge["new"] == judge["rows"] == gen["rows"]  # one score per row
    assert judge["prompt_tokens_new"] > 0
    out, err = io.StringIO(), io.StringIO()
    assert main(["plan", spec, "--backend", "fake", "--tokens"], out, err) == 0
    assert f"cache: 0 of {gen['rows'] + judge['rows']} requests cached" in out.getvalue()
    assert not os.path.exists(os.path.join(str(tmp_path), "out"))  # a preview writes no output
    _build(spec)
    after = plan()
    gen, judge = after["generate:t.default"], after["judge:t.default"]
    assert gen["new"] == judge["new"] == 0 and 0 < judge["rows"] <= gen["rows"]  # the rows the parse kept, scored


def test_a_judge_variants_short_label_is_topped_up_while_other_labels_still_generate(
        tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-label early top-ups hold for a variant with a judge: a label whose rows are done goes to
    the judge at once (a side job on the judge node) and, counted short, gets its next round while
    the other label's first round is still being generated or judged (it used to wait for the
    whole set to be judged, and its rounds were the whole set's, label None)."""
    monkeypatch.setenv("SYNTHC_FAKE_CAPACITY", "2")
    monkeypatch.setenv("SYNTHC_FAKE_DELAY", "0.01")
    spec = _project(str(tmp_path), per_label=6)
    with open(spec, encoding="utf-8") as fh:
        text = fh.read().replace("attempts  = 1", "attempts  = 4")
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write(text)
    log = os.path.join(str(tmp_path), "events.jsonl")
    _build(spec, events=log)
    events = [json.loads(x) for x in open(log, encoding="utf-8")]
    start = next(e for e in events if e["event"] == "generate_start" and e["node"] == "generate:t.default")
    first = start["total"] // 2  # each label's first round (no lock: both sized from the prior)
    rounds = [k for k, e in enumerate(events) if e["event"] == "generate_round"]
    assert rounds, "no top-up round"
    top = events[rounds[0]]
    assert top["label"] in ("not_sarcastic", "sarcastic"), top  # a label's own round, not the whole set's
    other = "sarcastic" if top["label"] == "not_sarcastic" else "not_sarcastic"

    def first_round_of(label: str, node: str, window: list[dict]) -> list[dict]:
        return [e for e in window if e["event"] == "row_done" and e["node"] == node and not e["cached"]
                and e["row"].startswith(label + "/") and int(e["row"].split("/")[1]) < first]

    before = events[:rounds[0]]
    judged = [e["row"] for e in before if e["event"] == "row_done" and e["node"] == "judge:t.default"]
    assert any(r.startswith(top["label"] + "/") for r in judged), judged  # its own rows judged before its round
    after = events[rounds[0]:]
    assert first_round_of(other, "generate:t.default", after) or first_round_of(other, "judge:t.default", after), \
        "the top-up waited for every label's first round to be judged"
    manifest, rows, _ = _out(spec)
    assert all(q["met"] for q in manifest["quota"]["default"].values()), manifest["quota"]
    assert Counter(r["label"] for r in rows) == {"not_sarcastic": 6, "sarcastic": 6}
    scored = [e["row"] for e in events if e["event"] == "row_done" and e["node"] == "judge:t.default"
              and not e["cached"]]
    assert len(scored) == len(set(scored)), "a row was scored twice"


def test_a_judge_that_gives_every_row_one_score_is_a_warning() -> None:
    """SmolLM2-135M answers 1 to every row (bench/judge.py): the build says so instead of leaving the
    user with an empty dataset; a handful of rows sharing a score by chance is no warning."""
    from synthc.runtime.prompting.judge import DEGENERATE_ROWS, degenerate

    j = ir.Judge(model="critic", rubric="r", scale=(1, 5), keep_op=">=", keep_score=4)
    flat = {"pos": Counter({1: DEGENERATE_ROWS // 2}), "neg": Counter({1: DEGENERATE_ROWS - DEGENERATE_ROWS // 2})}
    warning = degenerate(j, "t.default", flat)
    assert warning is not None and f"all {DEGENERATE_ROWS} rows of `t.default` the score 1" in warning
    assert 'keep = ">= 4"` drops every row' in warning and "larger model" in warning
    assert degenerate(j, "t.default", {"pos": Counter({5: DEGENERATE_ROWS})}) is not None  # keeps every row: also blind
    assert "keeps every row" in degenerate(j, "t.default", {"pos": Counter({5: DEGENERATE_ROWS})})  # type: ignore[operator]
    assert degenerate(j, "t.default", {"pos": Counter({1: DEGENERATE_ROWS - 1})}) is None  # too few to tell
    assert degenerate(j, "t.default", {"pos": Counter({1: 6}), "neg": Counter({4: 6})}) is None  # it discriminates


def test_the_build_warns_when_the_judge_gives_one_score(tmp_path: str, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import dataclasses

    from synthc.runtime import RunFailed
    from synthc.runtime.backends import fake

    real = fake.FakeBackend.generate_batch

    def always_one(self: fake.FakeBackend, requests: list) -> list:  # the fake as a judge answering 1 to all
        return [dataclasses.replace(c, text="1") if r.constraint.kind == "select" else c
                for r, c in zip(requests, real(self, requests))]

    monkeypatch.setattr(fake.FakeBackend, "generate_batch", always_one)
    with pytest.raises(RunFailed) as failed:  # every row dropped by `keep = ">= 3"`: E525, after the warning
        _build(_project(str(tmp_path), per_label=6))
    assert failed.value.diagnostics[0].code.id == "E525"
    err = capsys.readouterr().err
    assert "warning: the judge `critic` gave all" in err and "the score 1" in err and "drops every row" in err, err


def test_a_rebuild_with_judged_top_ups_replays_the_same_rounds(tmp_path: str) -> None:
    """On a rebuild every judge score comes from the cache inside the count that asked for it; the
    label is counted once (not again when the cached scores come back) and the rounds are the same."""
    spec = _project(str(tmp_path), per_label=6)
    with open(spec, encoding="utf-8") as fh:
        text = fh.read().replace("attempts  = 1", "attempts  = 4")
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write(text)
    first = _build(spec)
    manifest, _, _ = _out(spec)
    out = os.path.join(str(tmp_path), "out", "rows.jsonl")
    before = open(out, "rb").read()
    again = _build(spec)
    assert " 0 generated," in again, again
    assert open(out, "rb").read() == before
    assert _out(spec)[0]["quota"] == manifest["quota"] and " 0 generated," not in first
