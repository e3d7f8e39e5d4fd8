"""`synthc doctor` (runtime/models/doctor.py): a recipe's served model probed on llama.cpp's real server
(context, version, each constraint kind sent and checked here), a server that ignores
constraints (E516), a dead one (E511), a local model loaded and timed; and the cheap check
`synthc build` runs first (E515 before any generation, skipped with --no-doctor)."""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator

import pytest

from servers import LlamaServer, fault_server, llama_server
from synthc.cli import main
from synthc.compiler import compile_file
from synthc.runtime import RunFailed, execute
from synthc.runtime.backends.base import Constraint
from synthc.runtime.models.doctor import first_round, violation

RECIPE = """\
model served {{
  endpoint    = "{url}"
  dialect     = {dialect}
  context     = {context}
  max_tokens  = 40
  temperature = 0.0
  retries     = 0
  timeout     = 300
}}

labels sentiment {{
  positive = "positive"
  negative = "negative"
}}

task pick {{
  labels    = sentiment
  model     = served
  per_label = 1
  attempts  = 1
  prompt    = "Is this a good movie review? {{{{ label }}}}"
  output {{
    verdict = label()
  }}
}}

{code}task review {{
  labels    = sentiment
  model     = served
  per_label = 1
  attempts  = 1
  prompt    = "Write a {{{{ label }}}} movie review."
  output {{
    text  = string(chars = 1..40)
    label = label()
  }}
}}

export picks {{
  task = pick
  path = "out/pick/pick.jsonl"
}}
"""


# A regex output: a task for the dialects that can send one (openai's cannot: E315 at compile time).
CODE_TASK = """\
task code {
  labels    = sentiment
  model     = served
  per_label = 1
  attempts  = 1
  prompt    = "Give a ticket code for a {{ label }} review."
  output {
    code = regex("[A-Z]{2}-[0-9]")
  }
}

"""


def _spec(tmp: str, url: str, dialect: str = "llama_cpp", context: int = 1024) -> str:
    path = os.path.join(tmp, "served.synth")
    with open(path, "w", encoding="utf-8") as fh:
        code = CODE_TASK if dialect != "openai" else ""
        fh.write(RECIPE.format(url=url, dialect=dialect, context=context, code=code))
    return path


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every doctor runs from an empty scratch folder, and must leave it empty: a bare model check
    has no project, so it writes no `.synthc/` (fingerprint memo) into the user's working directory."""
    cwd = os.path.join(str(tmp_path), "cwd")
    os.mkdir(cwd)
    monkeypatch.chdir(cwd)
    yield
    assert os.listdir(cwd) == []


def _doctor(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["doctor", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def server() -> Iterator[LlamaServer]:
    with llama_server(parallel=2) as s:  # 1024 tokens a slot
        yield s


@pytest.mark.model
def test_doctor_on_a_recipe_with_the_real_llama_cpp_server(server: LlamaServer, tmp_path: str) -> None:
    code, out, err = _doctor(_spec(str(tmp_path), server.url), "--json")
    assert code == 0, err
    report = json.loads(out)
    (model,) = report["models"]
    assert model["facts"]["served_model"] == "smollm2-135m" and model["facts"]["context"] == 1024
    assert model["facts"]["server"]  # llama.cpp's build, from /props
    status = {f["check"]: f["status"] for f in model["findings"]}
    assert status == {"reach": "ok", "context": "ok", "constraint:select": "ok", "constraint:regex": "ok",
                      "constraint:json": "ok"}, model["findings"]
    assert report["errors"] == 0 and not err


@pytest.mark.model
def test_doctor_on_a_server_url_probes_every_kind_its_dialect_supports(server: LlamaServer) -> None:
    code, out, err = _doctor(server.url, "--dialect", "llama_cpp", "--json")
    assert code == 0, err
    (model,) = json.loads(out)["models"]
    assert model["name"] == "server" and model["facts"]["context"] == 1024
    status = {f["check"]: f["status"] for f in model["findings"]}
    assert status == {"reach": "ok", "constraint:select": "ok", "constraint:regex": "ok", "constraint:json": "ok"}
    code, _, err = _doctor(server.url, "--dialect", "llama_cpp", "--context", "4096")
    assert code == 1 and "error[E515]" in err


@pytest.mark.model
def test_build_stops_early_when_the_server_context_is_smaller(server: LlamaServer, tmp_path: str) -> None:
    spec = _spec(str(tmp_path), server.url, context=2048)
    code, out, err = _doctor(spec)
    assert code == 1 and "error[E515]" in err and "served.synth:1:1" in err
    assert "exceeds the 1024 tokens" in err and re.search(r"served +context +error E515", out)
    result = compile_file(spec)
    assert result.plan is not None
    with pytest.raises(RunFailed) as info:
        execute(result.plan, result.sources, quiet=True, select=["pick"])
    assert info.value.diagnostics[0].code.id == "E515"
    assert not os.path.exists(os.path.join(str(tmp_path), "out"))  # refused before generating or writing
    # --no-doctor: the build goes on (its prompts are short: every request fits the server's 1024)
    summary = execute(result.plan, result.sources, quiet=True, select=["pick"], doctor=False)
    assert "2 generated" in summary


def test_a_server_that_ignores_constraints_is_e516(tmp_path: str) -> None:
    with fault_server() as fake:  # answers free text to every request, whatever it constrains
        code, out, err = _doctor(_spec(str(tmp_path), fake.url, dialect="openai"), "--json")
    assert code == 1
    model = json.loads(out)["models"][0]
    assert model["facts"]["served_model"] == "fault-model" and model["facts"]["context"] is None
    found = {f["check"]: (f["status"], f["code"]) for f in model["findings"]}
    assert found["constraint:select"] == ("error", "E516") and found["constraint:json"] == ("error", "E516")
    assert err.count("error[E516]") == 2


def test_a_server_url_that_ignores_constraints(tmp_path: str) -> None:
    with fault_server() as fake:  # openai's dialect: a choice and a JSON object, no regex
        code, out, _ = _doctor(fake.url, "--dialect", "openai", "--json")
    assert code == 1
    found = {f["check"]: f["code"] for f in json.loads(out)["models"][0]["findings"]}
    assert found == {"reach": None, "constraint:select": "E516", "constraint:json": "E516"}


def test_a_dead_endpoint_is_e511(tmp_path: str) -> None:
    code, out, err = _doctor(_spec(str(tmp_path), "http://127.0.0.1:9/v1"))
    assert code == 1
    assert "served.synth:1:1: error[E511]" in err and "Connection refused" in err
    assert re.search(r"served +reach +error E511 +the model's server is unavailable", out) and "1 error(s)" in out


def test_a_target_that_is_nothing_is_e702() -> None:
    code, _, err = _doctor("no-such-model")
    assert code == 1 and "error[E702]" in err


def test_a_bare_model_check_writes_nothing_into_the_working_directory(tmp_path: str) -> None:
    """The model is hashed (its fingerprint) before llama.cpp refuses it: that hash used to be memoised
    in the cwd's .synthc/fingerprints.json. The autouse fixture checks the cwd stays empty."""
    bad = os.path.join(str(tmp_path), "broken.gguf")
    with open(bad, "wb") as fh:
        fh.write(b"GGUF" + b"\0" * 4096)
    code, out, err = _doctor(bad, "--json")
    assert code == 1 and "error[E501]" in err
    (model,) = json.loads(out)["models"]
    assert [(f["check"], f["status"]) for f in model["findings"]] == [("load", "error")]
    assert not os.path.exists(os.path.join(os.path.dirname(bad), ".synthc"))


@pytest.mark.model
def test_doctor_on_a_local_model(tmp_path: str) -> None:
    code, out, err = _doctor("smollm2-135m", "--threads", "1", "--context", "512", "--json")
    assert code == 0, err
    (model,) = json.loads(out)["models"]
    facts = model["facts"]
    assert model["kind"] == "local" and facts["context"] == 512 and facts["trained_context"] == 8192
    assert facts["batch_width"] >= 1 and facts["tokens_per_s"] > 0 and facts["tokens_per_s_one"] > 0
    assert [f["check"] for f in model["findings"]] == ["load", "speed"]


def test_slow_first_round_is_a_warning(tmp_path: str) -> None:
    spec = _spec(str(tmp_path), "http://127.0.0.1:9/v1")
    result = compile_file(spec)
    assert result.program is not None
    m = result.program.model("served")
    uses = [v for v in result.program.variants() if v.model == "served"]
    slow = first_round(m, result.program, uses, rate=0.01)  # 6 rows x 40 tokens at 0.01 tok/s: 6.7 h
    assert slow.status == "warning" and slow.code == "E517" and "≤ 240 tokens" in slow.detail
    fast = first_round(m, result.program, uses, rate=100.0)
    assert fast.status == "ok" and fast.code is None


@pytest.mark.parametrize("constraint, text, ok", [
    (Constraint("select", ("yes", "no")), "yes", True),
    (Constraint("select", ("yes", "no")), "Yes, it is", False),
    (Constraint("regex", pattern="[A-Z]{2}-[0-9]"), "AB-3", True),
    (Constraint("regex", pattern="[A-Z]{2}-[0-9]"), "AB-3 is the code", False),
    (Constraint("json", schema=json.dumps({"type": "object", "properties": {"n": {"type": "integer", "maximum": 9}},
                                           "required": ["n"], "additionalProperties": False})), '{"n": 3}', True),
    (Constraint("json", schema=json.dumps({"type": "object", "properties": {"n": {"type": "integer", "maximum": 9}},
                                           "required": ["n"], "additionalProperties": False})), '{"n": 30}', False),
    (Constraint("json", schema=json.dumps({"type": "object", "properties": {"n": {"type": "integer"}},
                                           "required": ["n"], "additionalProperties": False})), '{"m": 1}', False),
    (Constraint("json", schema=json.dumps({"type": "object", "properties": {}})), "Sure! {}", False),
])
def test_answers_are_checked_here(constraint: Constraint, text: str, ok: bool) -> None:
    assert (violation(constraint, text) is None) is ok
