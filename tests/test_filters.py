"""The filters (runtime/filters/): near-copy and label-echo cases from data files, fluency, the
calibrated oracle on real data (thresholds pass real held-out rows, copies are not rewarded, a
label is never emptied), per-label drop reasons, and a fake-backend build's manifest and card."""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from conftest import DATA, ROOT
from synthc.compiler import ir
from synthc.runtime.filters.oracle import Oracle
from synthc.runtime.filters.pipeline import FilterInputs, Texts, apply_filters, by_label
from synthc.runtime.filters.shingles import ShingleIndex
from synthc.runtime.prompting.postprocess import Candidate
from synthc.runtime.prompting.prompts import find_value_echo, prompt_echo, value_echo

CASES = os.path.join(ROOT, "tests", "filters")


def _cases(name: str) -> dict:
    with open(os.path.join(CASES, name), encoding="utf-8") as fh:
        return json.load(fh)


def _rows(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _cand(key: str, text: str, label: str, logprob: float | None = None) -> Candidate:
    prov = {} if logprob is None else {"logprob": logprob}
    return Candidate(key=key, text=text, label=label, fields={}, provenance=prov, row=None)  # type: ignore[arg-type]


def _filter(**kw: object) -> ir.Filter:
    base: dict[str, object] = dict(words=None, chars=None, dedupe="none", near_threshold=1.0, labels=None,
                                   oracle=None, cartography=None)
    return ir.Filter(**(base | kw))  # type: ignore[arg-type]


NEAR = _cases("near_copy.json")["cases"]
ECHO = _cases("echo_label.json")


@pytest.mark.parametrize("case", NEAR, ids=[c["id"] for c in NEAR])
def test_near_copy_case(case: dict) -> None:
    assert (ShingleIndex.build(case["source"], case["ngram"]).find(case["row"]) is not None) is case["copy"]
    row = _cand("r", case["row"], "a")
    src = Texts("src", tuple(f"s{i}" for i in range(len(case["source"]))), tuple(case["source"]))
    kept = apply_filters([row], _filter(near_copy=ir.NearCopy(of=("src",), ngram=case["ngram"])),
                         FilterInputs(copy_of=(src,)))
    assert (row.dropped == "near_copy") is case["copy"] and bool(kept) is not case["copy"]
    if case["copy"]:
        assert "src:s" in row.detail


@pytest.mark.parametrize("case", ECHO["cases"], ids=[c["id"] for c in ECHO["cases"]])
def test_echo_label_case(case: dict) -> None:
    echo = value_echo(tuple(ECHO["values"][case["values"]]))
    hit = find_value_echo(case["row"], echo)
    assert (hit[0] if hit else None) == case["echo"]
    row = _cand("r", case["row"], "a")
    apply_filters([row], _filter(), FilterInputs(echo=echo))
    assert row.dropped == ("echo.label" if case["echo"] else None)


@pytest.mark.parametrize("case", ECHO["prompt_cases"], ids=[c["id"] for c in ECHO["prompt_cases"]])
def test_prompt_echo_case(case: dict) -> None:
    index = prompt_echo(tuple(case["instruction"]), tuple(case["data"]))
    row = _cand("r", case["row"], "a")
    apply_filters([row], _filter(), FilterInputs(prompt=lambda _: index))
    assert row.dropped == ("echo.template" if case["echo"] else None)


def test_fluency_drops_below_threshold_and_counts_unknown() -> None:
    rows = [_cand("a", "fine text", "x", -1.2), _cand("b", "junk ## text", "x", -4.5), _cand("c", "no score", "y")]
    fin = FilterInputs()
    kept = apply_filters(rows, _filter(fluency=ir.Fluency(min_logprob=-3.0)), fin)
    assert [r.key for r in kept] == ["a", "c"]
    assert rows[1].dropped == "fluency" and "-4.500 < -3.0" in rows[1].detail
    assert rows[0].scores["logprob"] == -1.2 and "logprob" not in rows[2].scores
    assert fin.unscored == Counter({"fluency.unknown": 1})


def test_reasons_are_keys_counted_per_label() -> None:
    rows = [_cand("a", "one two", "pos"), _cand("b", "a fine long enough row", "pos"),
            _cand("c", "a fine long enough row", "pos"), _cand("d", "x " * 40, "neg")]
    kept = apply_filters(rows, _filter(words=(3, 20), dedupe="exact"))
    assert [r.key for r in kept] == ["b"]
    assert by_label(rows) == {"pos": Counter({"words": 1, "dedupe.exact": 1}), "neg": Counter({"words": 1})}


@pytest.fixture(scope="module")
def emotion() -> tuple[Oracle, list[dict]]:
    train = _rows(os.path.join(DATA, "tweeteval_emotion", "train.jsonl"))
    return Oracle([r["text"] for r in train], [r["label"] for r in train]), train


def test_calibrated_thresholds_pass_real_held_out_rows(emotion: tuple[Oracle, list[dict]]) -> None:
    """On a 4-label task the absolute 0.5 passes a quarter of the real test rows (one label none at
    all); the per-label 10th percentile of held-out scores passes most of every label."""
    oracle, _ = emotion
    test = _rows(os.path.join(DATA, "tweeteval_emotion", "test.jsonl"))
    probs = oracle.prob([r["text"] for r in test], [r["label"] for r in test])
    th = oracle.thresholds(0.1)
    n, cal, absolute = Counter(), Counter(), Counter()
    for r, p in zip(test, probs):
        n[r["label"]] += 1
        cal[r["label"]] += p >= th[r["label"]]
        absolute[r["label"]] += p >= 0.5
    assert sum(absolute.values()) / len(test) < 0.5 and min(absolute[k] / n[k] for k in n) < 0.2
    assert sum(cal.values()) / len(test) > 0.75 and min(cal[k] / n[k] for k in n) > 0.7
    assert len(set(round(t, 3) for t in th.values())) == len(th)  # per label, not one number


def test_oracle_does_not_reward_copies_of_training_rows(emotion: tuple[Oracle, list[dict]]) -> None:
    oracle, train = emotion
    copies = [r for r in train if len(r["text"].split()) >= 12][:60]
    texts, labels = [r["text"] for r in copies], [r["label"] for r in copies]
    full = oracle.prob(texts, labels)
    guarded = oracle.score(texts, labels)
    assert all(s.heldout for s in guarded)
    mean_full, mean_guarded = sum(full) / len(full), sum(s.prob for s in guarded) / len(guarded)
    heldout = oracle.heldout()
    index = {r["id"]: i for i, r in enumerate(train)}
    mean_real = sum(heldout[index[r["id"]]] for r in copies) / len(copies)
    assert mean_full > mean_guarded + 0.15  # the plain model would favour the copies ...
    assert abs(mean_guarded - mean_real) < 0.05  # ... the guard scores them as the unseen real rows they are


def test_oracle_never_empties_a_label_and_keeps_min_kept(emotion: tuple[Oracle, list[dict]]) -> None:
    oracle, _ = emotion
    test = _rows(os.path.join(DATA, "tweeteval_emotion", "test.jsonl"))
    joy = [r["text"] for r in test if r["label"] == "joy"]
    # Real joy tweets presented as `sadness`: the 8 the oracle finds least sad, and 4 sad ones.
    p = oracle.prob(joy, ["sadness"] * len(joy))
    least = [t for _, t in sorted(zip(p, joy))[:8]]
    off = [_cand(f"o{i}", t, "sadness") for i, t in enumerate(least)]
    sad = [r["text"] for r in test if r["label"] == "sadness"]
    p = oracle.prob(sad, ["sadness"] * len(sad))
    on = [_cand(f"s{i}", t, "sadness") for i, (_, t) in enumerate(sorted(zip(p, sad), reverse=True)[:4])]
    f = _filter(oracle=ir.Oracle(trained_on="t", keep=None, calibrate=0.1, min_kept=0.25, drop=True))
    kept = apply_filters(off, f, FilterInputs(oracle=oracle))
    assert len(kept) == 2 and all(r.scores.get("oracle_floor") == 1.0 for r in kept)  # ceil(0.25 × 8), best first
    assert max(r.scores["oracle"] for r in off if r.dropped) <= min(r.scores["oracle"] for r in kept)
    assert all(r.dropped in (None, "oracle") for r in off)
    fresh = [_cand(r.key, r.text, "sadness") for r in off] + on
    kept = apply_filters(fresh, f, FilterInputs(oracle=oracle))
    assert all(r.dropped is None and "oracle_floor" not in r.scores for r in on)  # above the threshold
    assert len(kept) == 4 + max(0, 3 - 4)  # 12 rows, floor 3, 4 pass: no rescue needed
    none = _filter(oracle=ir.Oracle(trained_on="t", keep=0.999, calibrate=None, min_kept=0.0, drop=True))
    rows = [_cand(f"z{i}", t.text, t.label or "") for i, t in enumerate(off)]
    assert len(apply_filters(rows, none, FilterInputs(oracle=oracle))) == 1  # min_kept 0 still keeps one


RECIPE = """
model m {{ gguf = builtin("smollm2-135m") }}
labels s {{
  not_sarcastic = "a plain, factual news headline"
  sarcastic     = "a sarcastic, satirical news headline"
}}
source train {{
  path  = "{data}/sarcasm_headlines/train.jsonl"
  label = "label"
}}
task t {{
  labels    = s
  model     = m
  seeds     = train
  per_label = 6
  prompt    = "Write a headline, {{{{ verbalization }}}}, unlike: {{{{ seed.text }}}}"
  filter {{
    words = 2..30
    fluency {{ min_logprob = -3 }}
    near_copy {{ of = [seeds]  ngram = 3 }}
    label_oracle {{ trained_on = train }}
  }}
}}
export e {{
  task = t
  path = "out/rows.jsonl"
}}
"""


def test_build_reports_drops_per_label(tmp_path: str) -> None:
    from synthc.compiler import compile_file
    from synthc.runtime import execute

    spec = os.path.join(str(tmp_path), "r.synth")
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write(RECIPE.format(data=DATA))
    with open(os.path.join(str(tmp_path), "synth.toml"), "w", encoding="utf-8") as fh:
        fh.write(f'[paths]\nallow = ["{DATA}"]\n')
    result = compile_file(spec)
    assert result.plan is not None, result.diagnostics
    (v,) = result.program.task("t").variants
    assert v.filter.oracle is not None and v.filter.oracle.calibrate == 0.1 and v.filter.oracle.keep is None
    assert v.filter.near_copy == ir.NearCopy(of=("train",), ngram=3, origin=v.filter.near_copy.origin)
    log = os.path.join(str(tmp_path), "events.jsonl")
    execute(result.plan, result.sources, quiet=True, backend="fake", events=log)
    out = os.path.join(str(tmp_path), "out")
    manifest = json.load(open(os.path.join(out, "manifest.json"), encoding="utf-8"))
    by = manifest["dropped_by_label"]["default"]
    total = Counter()
    for reasons in by.values():
        total.update(reasons)
    assert dict(total) == manifest["dropped"]["default"]
    assert set(by) <= {"sarcastic", "not_sarcastic"} and by
    # Rows fluency let through unscored: those kept, those later filters dropped, those the quota cut.
    surplus = sum(q["surplus"] for q in manifest["quota"]["default"].values())
    assert manifest["kept_unscored"]["default"]["fluency.unknown"] == manifest["counts"]["default"]["total"] + sum(
        n for k, n in total.items() if k in ("dedupe.exact", "oracle")) + surplus
    card = open(os.path.join(out, "README.md"), encoding="utf-8").read()
    assert "## Rows dropped per variant and label" in card
    assert all(f"| default | {label} |" in card for label in by)
    rows = [json.loads(x) for x in open(os.path.join(out, "rows.jsonl"), encoding="utf-8")]
    assert all("oracle_threshold" in r["provenance"]["scores"] for r in rows)
    events = [json.loads(x) for x in open(log, encoding="utf-8")]
    dropped = [e for e in events if e["event"] == "row_dropped"]
    # Every dropped row has its event, the parse step's too (a server's garbage has `row_rejected`).
    assert len(dropped) == sum(n for k, n in total.items() if k not in ("server_error", "unenforced"))
    assert all(e["detail"] and e["label"] in by for e in dropped)
    notes = [e["note"] for e in events if e.get("node") == "filter:t.default" and "note" in e]
    assert any("not_sarcastic" in n and " kept" in n for n in notes), notes


def test_editor_completes_near_copy_sources() -> None:
    from synthc.compiler.schema import SCHEMAS
    from synthc.lsp.complete import _for_type

    of = SCHEMAS["near_copy"].field("of")
    assert of is not None and of.type.elem is not None
    assert [i.label for i in _for_type(of.type.elem, None)] == ["seeds"]  # + the recipe's sources with an analysis
