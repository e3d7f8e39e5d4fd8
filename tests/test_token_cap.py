"""Rows the token cap cut short (reason `token_cap`): the parse cases from a data file, the fake
backend's honest `finish`, and a fake-backend build's manifest, card, events, warning, quota
rounds and `parse { truncated = keep }`.

The fake writes 8..47 words per row (a token is a word) and cuts at `max_tokens`; an output
`words = 5..20` caps each request at ceil(20 × 1.6) + 8 = 40 tokens, so rows that would have had
40..47 words (about a fifth) stop at the cap.
"""

from __future__ import annotations

import io
import json
import os
from collections import Counter
from typing import Any

import pytest

from conftest import ROOT
from synthc.compiler import compile_file, ir
from synthc.compiler.irdiff import diff_plans
from synthc.runtime.engine.quota import PRIOR, first_size
from synthc.runtime import execute
from synthc.runtime.backends.base import Constraint, Request
from synthc.runtime.backends.fake import FakeBackend
from synthc.runtime.errors import RunFailed
from synthc.runtime.prompting.postprocess import TOKEN_CAP, parse_completion

CASES = json.load(open(os.path.join(ROOT, "tests", "filters", "token_cap.json"), encoding="utf-8"))["cases"]

_OUTPUTS = {
    "text": ir.Output(fields=(ir.OutputField(name="text", type="string"),)),
    "json": ir.Output(fields=(ir.OutputField(name="text", type="string"), ir.OutputField(name="label", type="label"))),
    "label": ir.Output(fields=(ir.OutputField(name="label", type="label"),)),
}


def _parse(**kw: Any) -> ir.Parse:
    base: dict[str, Any] = dict(prefix=None, split=False, strip_quotes=True, reject=(), truncated="drop")
    return ir.Parse(**(base | {k: tuple(v) if k == "reject" else v for k, v in kw.items()}))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_token_cap_case(case: dict[str, Any]) -> None:
    output = _OUTPUTS[case["output"]]
    got = parse_completion(case["text"], output, _parse(**case["parse"]), case["cap"])
    pieces = [p if case["output"] != "text" else p[output.text_field] for p in got.pieces]
    assert (pieces, got.total, got.reason, got.cut) == (case["pieces"], case["total"], case["reason"], case["cut"])
    if "detail" in case:
        assert got.detail == case["detail"]


def _request(max_tokens: int, seed: int, constraint: Constraint = Constraint(), stop: tuple[str, ...] = ()) -> Request:
    return Request(messages=(("user", "Write a long review of a quiet film about a family by the sea."),),
                   mode="chat", constraint=constraint, max_tokens=max_tokens, temperature=0.8, top_p=0.95,
                   stop=stop, seed=seed)


def test_fake_backend_says_length_when_the_cap_ends_a_row() -> None:
    fake = FakeBackend()
    done = [fake.generate(_request(30, seed)) for seed in range(60)]
    finishes = Counter(c.finish for c in done)
    assert finishes["length"] and finishes["stop"]  # 8..47 words wanted, 30 allowed
    for c in done:
        assert c.completion_tokens <= 30
        assert (c.completion_tokens == 30) is (c.finish == "length")
    uncapped = [fake.generate(_request(1000, seed)) for seed in range(60)]
    assert {c.finish for c in uncapped} == {"stop"}
    # The same seed with room to spare writes the row the cap cut: longer, same start.
    for seed, (short, long) in enumerate(zip(done, uncapped)):
        if short.finish == "length":
            assert long.completion_tokens >= 30
            assert long.text.split()[:29] == short.text.split()[:29]
            # A stop string met before the cap ends the row: "stop", however long it would have been.
            stopped = fake.generate(_request(30, seed, stop=(" ",)))
            assert stopped.finish == "stop" and " " not in stopped.text


def test_fake_backend_cuts_json_at_the_cap() -> None:
    schema = json.dumps({"type": "object", "properties": {"text": {"type": "string"}}})
    fake = FakeBackend()
    cut = fake.generate(_request(3, 1, Constraint(kind="json", schema=schema)))
    assert cut.finish == "length" and cut.completion_tokens == 3
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.text)
    whole = fake.generate(_request(1000, 1, Constraint(kind="json", schema=schema)))
    assert whole.finish == "stop" and json.loads(whole.text)["text"]


SPEC = """
model m {{
  gguf       = builtin("smollm2-135m")
  max_tokens = {max_tokens}
  seed       = 3
}}

labels s {{
  positive = "positive"
  negative = "negative"
}}

task t {{
  labels    = s
  model     = m
  per_label = 8
  attempts  = 4
  prompt    = "Write a {{{{ label }}}} review about the plot, the acting, the music and the camera."

  output {{
    text = string(words = 5..20)
  }}
{parse}
}}

export t {{
  task = t
  path = "out/t.jsonl"
}}
"""


def _spec(tmp: str, parse: str = "", max_tokens: int = 200) -> str:
    os.makedirs(tmp, exist_ok=True)
    spec = os.path.join(tmp, "t.synth")
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write(SPEC.format(parse=parse, max_tokens=max_tokens))
    return spec


def _build(tmp: str, parse: str = "") -> tuple[dict[str, Any], list[dict[str, Any]], str, list[dict[str, Any]]]:
    """The manifest, rows, stderr and events of a fake build of SPEC with this `parse` block."""
    spec = _spec(tmp, parse)
    result = compile_file(spec)
    assert result.plan is not None, result.diagnostics
    err, log = io.StringIO(), os.path.join(tmp, "events.jsonl")
    execute(result.plan, result.sources, quiet=True, backend="fake", err=err, events=log)
    out = os.path.join(tmp, "out")
    manifest = json.load(open(os.path.join(out, "manifest.json"), encoding="utf-8"))
    rows = [json.loads(line) for line in open(os.path.join(out, "t.jsonl"), encoding="utf-8")]
    events = [json.loads(line) for line in open(log, encoding="utf-8")]
    return manifest, rows, err.getvalue(), events


def test_rows_cut_at_the_cap_are_dropped_reported_and_made_up_for(tmp_path: str) -> None:
    manifest, rows, err, events = _build(str(tmp_path))
    dropped = manifest["dropped"]["default"][TOKEN_CAP]
    assert dropped > 0
    by_label = manifest["dropped_by_label"]["default"]
    assert sum(reasons.get(TOKEN_CAP, 0) for reasons in by_label.values()) == dropped
    # No kept row stopped at the cap; the quota's further rounds made up for the dropped ones.
    assert all(r["provenance"]["finish"] == "stop" for r in rows)
    quota = manifest["quota"]["default"]
    assert all(e["met"] and e["kept"] == 8 for e in quota.values())
    assert sum(e["requests"] for e in quota.values()) >= 16 + dropped
    assert Counter(r["label"] for r in rows) == {"positive": 8, "negative": 8}
    # One event per dropped row, with the cap; the card's per-label table; the warning.
    capped = [e for e in events if e["event"] == "row_dropped" and e["reason"] == TOKEN_CAP]
    assert len(capped) == dropped and all(e["detail"] == "stopped at max_tokens = 40" for e in capped)
    assert all(e["node"] == "parse:t.default" and e["label"] in by_label for e in capped)
    card = open(os.path.join(str(tmp_path), "out", "README.md"), encoding="utf-8").read()
    assert any(line.startswith("| default | ") and f"{TOKEN_CAP} " in line for line in card.splitlines())
    warning = [line for line in err.splitlines() if line.startswith("warning:") and TOKEN_CAP in line]
    assert len(warning) == 1, err
    assert f"{dropped} of " in warning[0] and "`t.default`" in warning[0] and "max_tokens = 40" in warning[0]
    # The cap here comes from the output's word bound (40 < the model's 200): that is what to raise.
    assert "`words`" in warning[0] and "truncated = sentence" in warning[0]


def test_truncated_keep_keeps_them_counted_as_cut(tmp_path: str) -> None:
    manifest, rows, err, events = _build(str(tmp_path), "\n  parse {\n    truncated = keep\n  }\n")
    assert TOKEN_CAP not in manifest["dropped"]["default"]
    kept_cut = [r for r in rows if r["provenance"]["finish"] == "length"]
    assert kept_cut and all(len(r["text"].split()) == 40 for r in kept_cut)
    assert manifest["cut"]["default"][TOKEN_CAP] >= len(kept_cut)  # rows the quota later cut counted too
    assert not any(e.get("reason") == TOKEN_CAP for e in events if e["event"] == "row_dropped")
    assert TOKEN_CAP not in err  # no warning: nothing was dropped
    # With nothing dropped at the cap, one round (sized at the prior keep rate) meets the quota.
    assert all(e["requests"] == first_size(e["wanted"], PRIOR, 4 * e["wanted"])
               for e in manifest["quota"]["default"].values())
    assert set(manifest["efficiency"]["default"]["rounds"].values()) == {1}


def test_a_cap_that_cuts_every_row_says_what_to_raise(tmp_path: str) -> None:
    result = compile_file(_spec(str(tmp_path), max_tokens=8))  # the fake writes 8 words or more
    assert result.plan is not None, result.diagnostics
    with pytest.raises(RunFailed) as failed:
        execute(result.plan, result.sources, quiet=True, backend="fake", err=io.StringIO())
    (d,) = failed.value.diagnostics
    assert d.code.id == "E525" and f"{TOKEN_CAP} " in d.message
    assert "raise the token cap" in (d.help or "") and "truncated = sentence" in (d.help or "")


def test_changing_truncated_changes_the_parse_node_not_the_generations(tmp_path: str) -> None:
    paths = [_spec(os.path.join(str(tmp_path), name), parse)
             for name, parse in (("a", ""), ("b", "\n  parse {\n    truncated = keep\n  }\n"))]
    old, new = (compile_file(p) for p in paths)
    assert old.plan is not None and new.plan is not None
    diff = diff_plans(old.plan, new.plan)
    assert [c.path for c in diff.node("parse:t.default").changes] == ["parse.truncated"]
    # Parsing follows generation: no request, so no cache key, depends on it.
    assert all(diff.node(f"{kind}:t.default").status == "same" for kind in ("render", "generate"))
    assert diff.node("filter:t.default").status == "upstream"
    assert new.plan.step("parse:t.default").summary.endswith(" truncated=keep")
    assert "truncated" not in old.plan.step("parse:t.default").summary
