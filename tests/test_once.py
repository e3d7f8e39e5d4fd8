"""`once NAME { per = … }`: a value generated once per distinct key and shared by every row with
that key (runtime/engine/groups.py), on the fake backend: K keys cost exactly K extra generations, a
rebuild is all cache, every row's prompt carries its key's value, provenance names it. One `model`
test runs the same promises on the embedded SmolLM2 through llama.cpp's decode loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict

import pytest

from synthc.compiler import compile_file
from test_runtime import _build, _copy_example, _sha

EXAMPLE = "once_per_community.synth"


def _rows(tmp: str) -> list[dict]:
    with open(os.path.join(tmp, "out", "once_per_community", "answers.jsonl"), encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _show(spec: str) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "synthc", "show", spec, "--backend", "fake", "--rows", "8", "--json"],
                         capture_output=True, text=True, cwd=os.path.dirname(spec), check=True).stdout
    return json.loads(out)["rows"]


def _style(row: dict) -> str:
    content = row["messages"][-1]["content"]
    return content.split("House style: ", 1)[1].split("\nTitle:", 1)[0]


def test_one_generation_per_key_shared_and_cached(tmp_path: str) -> None:
    tmp = str(tmp_path)
    spec = _copy_example(tmp, EXAMPLE)
    before = _show(spec)
    assert {_style(r) for r in before} == {"<once.style: not generated yet>"}  # show before a build: marked

    first = _build(spec)
    rows = _rows(tmp)
    community = _communities(spec)
    keys = {r["provenance"]["once"]["style"]["key"] for r in rows}
    assert len(rows) == 8 and 1 < len(keys) < len(rows)  # the example's sample shares keys
    assert f"{len(rows) + len(keys)} generated, 0 from cache" in first  # exactly one extra per key

    by_key: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        once = r["provenance"]["once"]["style"]
        assert once["key"] == community[r["provenance"]["seed_id"]]
        by_key[once["key"]].add(once["cache_key"])
    assert all(len(ck) == 1 for ck in by_key.values())  # one cache entry per key

    # `synthc show` after the build: every row's prompt reads its key's generated value.
    shown = _show(spec)
    styles: dict[str, set[str]] = defaultdict(set)
    for r in shown:
        styles[community[r["seed_id"]]].add(_style(r))
    assert all(len(s) == 1 and "not generated yet" not in next(iter(s)) for s in styles.values())
    assert len({next(iter(s)) for s in styles.values()}) == len(styles)  # each key its own value

    sha = _sha(os.path.join(tmp, "out", "once_per_community", "answers.jsonl"))
    again = _build(spec)
    assert f"0 generated, {len(rows) + len(keys)} from cache" in again
    assert _sha(os.path.join(tmp, "out", "once_per_community", "answers.jsonl")) == sha


def test_rebuild_from_scratch_is_byte_identical(tmp_path: str) -> None:
    shas = []
    for run in ("a", "b"):
        tmp = os.path.join(str(tmp_path), run)
        _build(_copy_example(tmp, EXAMPLE))
        shas.append(_sha(os.path.join(tmp, "out", "once_per_community", "answers.jsonl")))
    assert shas[0] == shas[1]


def test_without_once_drops_the_block(tmp_path: str) -> None:
    """A variant's `without = [once]` removes every named `once` block (and its reads must go too)."""
    spec = os.path.join(str(tmp_path), "t.synth")
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write('model m {\n  gguf = builtin("smollm2-135m")\n}\nlabels l {\n  a = "A"\n}\n'
                 'task t {\n  labels = l\n  model = m\n  per_label = 2\n  vary {\n    topic = ["x", "y"]\n  }\n'
                 '  once hint {\n    per = topic\n    prompt = "About {{ key }}."\n  }\n'
                 '  prompt = "{{ label }} {{ topic }} {{ once.hint }}"\n'
                 '  variant keyed {}\n  variant plain {\n    without = [once]\n    prompt = "{{ label }} {{ topic }}"\n  }\n}\n')
    result = compile_file(spec)
    assert result.diagnostics == [] and result.program is not None
    by_name = {v.name: v for v in result.program.task("t").variants}
    assert [o.name for o in by_name["keyed"].once or ()] == ["hint"] and by_name["keyed"].once[0].per == ("topic",)
    assert by_name["plain"].once is None


def _communities(spec: str) -> dict[str, str]:
    """Each question's community, read from the data file itself (the key the rows should carry)."""
    from synthc.runtime.io.data import read_records

    result = compile_file(spec)
    assert result.program is not None
    return {r["id"]: r["community"] for r in read_records(result.program.source("questions"), result.program.root)}


def test_quota_rounds_reuse_the_keys(tmp_path: str) -> None:
    """A classification task's quota rounds add rows; a key a later round brings again costs
    nothing more: generations = every round's requests + one per distinct key."""
    tmp = str(tmp_path)
    spec = os.path.join(tmp, "t.synth")
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write('model m {\n  gguf = builtin("smollm2-135m")\n}\nlabels l {\n  pos = "positive"\n  neg = "negative"\n}\n'
                 'task t {\n  labels = l\n  model = m\n  per_label = 3\n  vary {\n    product = ["phone", "laptop"]\n  }\n'
                 '  once brand {\n    per = product\n    prompt = "Invent a brand for a {{ key }}."\n  }\n'
                 '  prompt = "A {{ verbalization }} review of a {{ product }} by {{ once.brand }}."\n}\n'
                 'export t {\n  task = t\n  path = "out/t.jsonl"\n}\n')
    summary = _build(spec)
    manifest = json.load(open(os.path.join(tmp, "out", "manifest.json")))
    requests = sum(e["requests"] for e in manifest["quota"]["default"].values())
    assert f"{requests + 2} generated, 0 from cache" in summary
    with open(os.path.join(tmp, "out", "t.jsonl"), encoding="utf-8") as fh:
        rows = [json.loads(line)["provenance"] for line in fh]
    assert {(p["attributes"]["product"], p["once"]["brand"]["key"]) for p in rows} == {("phone", "phone"), ("laptop", "laptop")}


def test_plan_counts_the_once_requests(tmp_path: str) -> None:
    """`synthc plan --tokens` counts a `once` block's requests (one per key its rows bring) with the
    rows', before a build (all new) and after it (all cached): what the build generated."""
    import io

    from synthc.cli import main

    tmp = str(tmp_path)
    spec = _copy_example(tmp, EXAMPLE)

    def plan() -> dict:
        out, err = io.StringIO(), io.StringIO()
        assert main(["plan", spec, "--backend", "fake", "--tokens", "--json"], out, err) == 0, err.getvalue()
        (gen,) = [n["cache"] for n in json.loads(out.getvalue())["nodes"] if n["kind"] == "generate"]
        return gen

    before = plan()
    assert before["once"] > 1 and before["new"] == before["rows"]
    first = _build(spec)
    keys = {r["provenance"]["once"]["style"]["key"] for r in _rows(tmp)}
    assert before["once"] == len(keys) and f"{before['rows']} generated, 0 from cache" in first
    after = plan()
    assert after["rows"] == before["rows"] and after["new"] == 0 and after["once"] == len(keys)


ONCE_REAL = """\
model m {
  gguf        = builtin("smollm2-135m")
  mode        = chat
  temperature = 0.7
  max_tokens  = 24
}
labels l {
  pos = "positive"
  neg = "negative"
}
task t {
  labels    = l
  model     = m
  per_label = 2
  attempts  = 1
  once tone {
    per        = label
    prompt     = "In five words, name a {{ key }} feeling."
    max_tokens = 12
  }
  prompt = "Write a one-sentence {{ verbalization }} review of a phone. Tone: {{ once.tone }}"
  variant plain {
    without = [filter]
  }
}
export t {
  task = t
  path = "out/t.jsonl"
}
"""


@pytest.mark.model
def test_once_on_the_real_model(tmp_path: str) -> None:
    """The embedded SmolLM2 through llama.cpp's decode loop: the 2 key rows are generated before
    the 4 rows that read them (one extra request per key, not per row), every row's prompt carries
    its key's generated text, and a rebuild is all cache with identical bytes."""
    from synthc.runtime import execute
    from synthc.runtime.store.cache import open_cache

    tmp = str(tmp_path)
    spec = os.path.join(tmp, "t.synth")
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write(ONCE_REAL)

    def build() -> str:
        result = compile_file(spec)
        assert result.plan is not None, result.diagnostics
        return execute(result.plan, result.sources, quiet=True, backend="llama")

    first = build()
    assert "6 generated, 0 from cache" in first, first  # 4 rows + 1 per key
    out = os.path.join(tmp, "out", "t.jsonl")
    rows = [json.loads(line) for line in open(out, encoding="utf-8")]
    assert len(rows) == 4
    once = {r["provenance"]["once"]["tone"]["key"]: r["provenance"]["once"]["tone"]["cache_key"] for r in rows}
    assert set(once) == {"pos", "neg"} and len(set(once.values())) == 2
    cache = open_cache(os.path.join(tmp, ".synthc"))
    try:
        values = {key: cache.get(ck) for key, ck in once.items()}
    finally:
        cache.close()
    assert all(c is not None and c.text.strip() and c.completion_tokens <= 12 for c in values.values()), values
    shown = json.loads(subprocess.run([sys.executable, "-m", "synthc", "show", spec, "--rows", "4", "--json"],
                                      capture_output=True, text=True, cwd=tmp, check=True).stdout)["rows"]
    assert len(shown) == 4
    for r in shown:  # the prompt each row was generated from reads its own key's value
        assert r["messages"][-1]["content"].endswith("Tone: " + values[r["label"]].text.strip()), r["messages"]
    sha = _sha(out)
    again = build()
    assert "0 generated, 6 from cache" in again, again
    assert _sha(out) == sha
