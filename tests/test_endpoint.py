"""Served models: builds against llama.cpp's real server (the embedded SmolLM2 GGUF) started on
127.0.0.1 by the tests, and fault injection (429/503 bursts, slowness past the timeout, malformed
answers, a server killed mid-build) against a tiny local HTTP server: clear codes, nothing lost,
resume works, the API key never written anywhere."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from servers import FaultServer, LlamaServer, fault_server, llama_server
from synthc.compiler import compile_file, ir
from synthc.compiler.endpoints import SUPPORTED
from synthc.runtime import RunFailed, execute
from synthc.runtime.backends import dialects
from synthc.runtime.backends.base import Constraint, Request, Slot
from synthc.runtime.backends.endpoint import EndpointBackend

SECRET = "sk-test-0123456789-do-not-leak"

RECIPE = """\
model served {{
  endpoint    = "{url}"
  dialect     = {dialect}
  max_tokens  = {max_tokens}
  context     = 1024  # a slot of the test server (tests/servers.py); more is E515 before a build
  temperature = 0.7
  concurrency = 2
  retries     = {retries}
  timeout     = {timeout}
  api_key_env = "SYNTHC_TEST_API_KEY"
}}

labels sentiment {{
  positive = "positive"
  negative = "negative"
}}

task reviews {{
  labels    = sentiment
  model     = served
  per_label = {n}
  attempts  = 1  # one round: the tests count requests (quota rounds: tests/test_quota.py)
  prompt    = "Write a {{{{ label }}}} movie review."

  parse {{
    truncated = keep  # 8-token rows keep the tests fast: the cap cuts them, and they are kept
  }}
{output}}}

export out {{
  task = reviews
  path = "out/reviews.jsonl"
}}
"""
JSON_OUTPUT = """
  output {
    text  = string(chars = 1..40)
    label = label()
  }
"""


def _spec(tmp: str, url: str, *, dialect: str = "openai", n: int = 2, retries: int = 2, timeout: float = 30,
          output: str = "", max_tokens: int = 8) -> str:
    path = os.path.join(tmp, "served.synth")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(RECIPE.format(url=url, dialect=dialect, n=n, retries=retries, timeout=timeout, output=output,
                                max_tokens=max_tokens))
    return path


def _build(spec: str, **kw: object) -> str:
    result = compile_file(spec)
    assert result.plan is not None, result.diagnostics
    return execute(result.plan, result.sources, quiet=True, **kw)  # type: ignore[arg-type]


def _rows(tmp: str) -> list[dict]:
    with open(os.path.join(tmp, "out", "reviews.jsonl"), encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _everything_written(tmp: str, but: str = "") -> bytes:
    data = b""
    for path in glob.glob(os.path.join(tmp, "**", "*"), recursive=True) + glob.glob(os.path.join(tmp, ".synthc", "*")):
        if os.path.isfile(path) and path != but:
            with open(path, "rb") as fh:
                data += fh.read()
    return data


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTHC_TEST_API_KEY", SECRET)


# -- the real server ---------------------------------------------------------------------------

@pytest.mark.model
def test_build_against_llama_cpp_server(tmp_path: str) -> None:
    tmp = str(tmp_path)
    log = os.path.join(tmp, "events.jsonl")
    with llama_server() as server:
        spec = _spec(tmp, server.url, dialect="llama_cpp", output=JSON_OUTPUT, max_tokens=40)
        summary = _build(spec, events=log)
        assert "4 generated, 0 from cache" in summary
        rows = _rows(tmp)
        # the label came from the server-side JSON schema: always one of the declared labels
        assert len(rows) >= 3 and all(r["label"] in ("positive", "negative") for r in rows)
        manifest = json.load(open(os.path.join(tmp, "out", "manifest.json")))
        model = manifest["model"]
        assert model["endpoint"] == server.url and model["served_model"] == "smollm2-135m"
        assert model["dialect"] == "llama_cpp" and model["fingerprint"].startswith("endpoint:")
        lock = json.load(open(spec + ".lock"))
        assert lock["models"]["served"]["fingerprint"] == model["fingerprint"]
        again = _build(spec, locked=True, events=log)  # same server, same identity: all cached
        assert "0 generated, 4 from cache" in again
    notes = [json.loads(line).get("note", "") for line in open(log, encoding="utf-8")]
    assert any("cannot be verified byte for byte" in n for n in notes)
    assert SECRET.encode() not in _everything_written(tmp)


@pytest.mark.model
def test_llama_cpp_enforces_every_constraint_kind() -> None:
    with llama_server(parallel=2) as server:
        ep = ir.Endpoint(url=server.url, served_model="smollm2-135m", dialect="llama_cpp", api_key_env=None,
                         timeout=120, concurrency=2, adaptive=False, retries=1)
        be = EndpointBackend(ep, "chat", 2048)
        assert be.count_tokens("Hello world") == 2 and be.truncate("Hello world, again", 2) == "Hello world"
        schema = json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"],
                             "additionalProperties": False})
        cons = [Constraint("select", ("yes", "no")), Constraint("regex", pattern="[A-Z]{2}-[0-9]"),
                Constraint("json", schema=schema)]
        # (llama.cpp lets a chat model fence JSON in ``` and strips the fence: JSON gets more tokens)
        out = be.generate_batch([_request(c, "chat", 40 if c.kind == "json" else 5) for c in cons]
                                + [_request(cons[1], "completion", 5)])
        be.close()
    assert out[0].text in ("yes", "no")
    assert __import__("re").fullmatch("[A-Z]{2}-[0-9]", out[1].text) and out[3].text[2] == "-"
    assert isinstance(json.loads(out[2].text)["n"], int)
    assert all(c.logprob is not None and c.logprob <= 0 for c in out)


@pytest.mark.model
def test_server_killed_mid_build_then_resumed(tmp_path: str) -> None:
    tmp = str(tmp_path)
    log = os.path.join(tmp, "events.jsonl")
    server = LlamaServer(__import__("servers").free_port()).start()
    spec = _spec(tmp, server.url, dialect="llama_cpp", n=4, retries=1)
    cmd = [sys.executable, "-m", "synthc", "build", spec, "--quiet", "--events", log]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and _done(log) < 3 and proc.poll() is None:
            time.sleep(0.05)
        server.kill()  # like a crashed server: no goodbye
        _, err = proc.communicate(timeout=120)
    finally:
        server.kill()
        proc.kill()
    assert proc.returncode == 1, err
    assert "error[E511]" in err and "saved" in err and "Traceback" not in err
    assert not os.path.exists(os.path.join(tmp, "out", "reviews.jsonl"))
    finished = _done(log)
    restarted = LlamaServer(server.port).start()
    try:
        summary = _build(spec)
    finally:
        restarted.kill()
    assert f"from cache" in summary and int(summary.split(" from cache")[0].split()[-1]) >= finished
    ids = [r["id"] for r in _rows(tmp)]
    assert len(ids) == len(set(ids)) and len(ids) >= 6  # no row lost or duplicated (dedupe may drop one)


def _done(log: str) -> int:
    if not os.path.exists(log):
        return 0
    with open(log, encoding="utf-8") as fh:
        return sum(1 for line in fh if '"row_done"' in line and '"cached": false' in line)


# -- faults ------------------------------------------------------------------------------------

def _backend(server: FaultServer, **kw: object) -> EndpointBackend:
    fields = {"url": server.url, "served_model": None, "dialect": "openai", "api_key_env": "SYNTHC_TEST_API_KEY",
              "timeout": 10.0, "concurrency": 4, "adaptive": False, "retries": 4} | kw
    return EndpointBackend(ir.Endpoint(**fields), "chat", 2048, backoff=0.01)  # type: ignore[arg-type]


def _request(c: Constraint = Constraint(), mode: str = "chat", max_tokens: int = 8, seed: int = 1) -> Request:
    messages = (("user", "Answer briefly: is the sky blue?"),) if mode == "chat" else (("text", "Q: code?\nA:"),)
    return Request(messages=messages, mode=mode, constraint=c, max_tokens=max_tokens, temperature=0.7, top_p=0.9,
                   stop=(), seed=seed)


def test_429_and_503_bursts_are_retried_and_adaptive_concurrency_backs_off() -> None:
    with fault_server(["429"] * 4 + ["503"] * 2) as server:
        be = _backend(server, adaptive=True, concurrency=8)
        out = be.generate_batch([_request(seed=i) for i in range(12)])
        assert len(out) == 12 and all(c.text and c.finish == "stop" for c in out)
        assert be.retried == 6 and len(server.requests) == 18
        assert be.limiter.lowest < 4  # halved on congestion, grew back additively
        assert server.headers[0]["authorization"] == f"Bearer {SECRET}"
        be.close()


def test_fixed_concurrency_is_the_cap_on_requests_in_flight() -> None:
    # Each answer takes 1 s, so the three requests of a wave overlap even on a loaded machine
    # (at 0.2 s a starved client thread could start its request after another had ended).
    with fault_server(["slow:1"] * 6) as server:
        be = _backend(server, concurrency=3)
        be.generate_batch([_request(seed=i) for i in range(6)])
        assert server.max_in_flight == 3
        be.close()


def test_slow_server_past_the_timeout_fails_coded_then_resumes(tmp_path: str) -> None:
    tmp = str(tmp_path)
    with fault_server(["slow:1.5"] * 4) as server:  # two requests at once, each tried twice
        spec = _spec(tmp, server.url, retries=1, timeout=0.3)
        with pytest.raises(RunFailed) as info:
            _build(spec)
        d = info.value.diagnostics[0]
        assert d.code.id == "E511" and "timeout" in d.message and "saved" in d.message
        assert not os.path.exists(os.path.join(tmp, "out", "reviews.jsonl"))
        summary = _build(spec)  # the server answers in time now
        assert "4 generated" in summary and len(_rows(tmp)) == 4


def test_malformed_answers_reject_their_rows_and_a_rerun_retries_them(tmp_path: str) -> None:
    tmp = str(tmp_path)
    log = os.path.join(tmp, "events.jsonl")
    with fault_server(["ok", "malformed", "shapeless"]) as server:
        spec = _spec(tmp, server.url)
        assert "2 generated, 0 from cache" in _build(spec, events=log)
        assert len(_rows(tmp)) == 2
        manifest = json.load(open(os.path.join(tmp, "out", "manifest.json")))
        assert manifest["dropped"]["default"]["server_error"] == 2
        reasons = [json.loads(line)["reason"] for line in open(log) if '"row_rejected"' in line]
        assert len(reasons) == 2 and all("malformed response" in r for r in reasons)
        _build(spec)  # never cached: their groups run again
        assert len(_rows(tmp)) == 4
        assert "server_error" not in json.load(open(os.path.join(tmp, "out", "manifest.json")))["dropped"]["default"]


def test_dead_server_is_e511_after_saving_finished_rows(tmp_path: str) -> None:
    tmp = str(tmp_path)
    with fault_server(["ok", "ok", "die"]) as server:
        spec = _spec(tmp, server.url, n=3, retries=1)
        with pytest.raises(RunFailed) as info:
            _build(spec)
    d = info.value.diagnostics[0]
    assert d.code.id == "E511" and "2 finished row(s) are saved" in d.message and SECRET not in d.message
    assert not os.path.exists(os.path.join(tmp, "out", "reviews.jsonl"))
    with fault_server() as again:  # the server is back (on another port: the identity is the same)
        spec = _spec(tmp, again.url, n=3, retries=1)
        assert "4 generated, 2 from cache" in _build(spec)
    assert len(_rows(tmp)) == 6


def test_unknown_model_and_refusals_are_e512_without_the_key(tmp_path: str) -> None:
    with fault_server() as server:
        with pytest.raises(Exception) as info:
            _backend(server, served_model="no-such-model")
        assert "fault-model" in str(info.value)
    tmp = str(tmp_path)
    with fault_server(["400"]) as server:
        spec = _spec(tmp, server.url)
        with pytest.raises(RunFailed) as failed:
            _build(spec)
        d = failed.value.diagnostics[0]
        assert d.code.id == "E512" and "HTTP 400" in d.message and SECRET not in d.message


def test_missing_api_key_variable_is_e513(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNTHC_TEST_API_KEY")
    with fault_server() as server:
        with pytest.raises(RunFailed) as info:
            _build(_spec(str(tmp_path), server.url))
    assert info.value.diagnostics[0].code.id == "E513"
    assert "SYNTHC_TEST_API_KEY" in info.value.diagnostics[0].message


# -- dialects ------------------------------------------------------------------------------------

CONSTRAINTS = {
    "text": Constraint(), "select": Constraint("select", ("a", "b")), "regex": Constraint("regex", pattern="[0-9]+"),
    "json": Constraint("json", schema=json.dumps({"type": "object", "properties": {"t": {"type": "string",
                                                                                       "maxLength": 9}}})),
    "template": Constraint("template", pattern="N: ([0-9]+)", slots=(Slot(text="N: "), Slot(name="n", type="int",
                                                                                           pattern="[0-9]+"))),
}
WHERE = {"llama_cpp": "json_schema", "vllm": "structured_outputs", "sglang": ("regex", "response_format", "json_schema"),
         "ollama": "response_format", "openai": "response_format"}


@pytest.mark.parametrize("dialect", sorted(SUPPORTED))
def test_every_supported_cell_is_sent_in_the_dialects_own_field(dialect: str) -> None:
    for mode, kinds in SUPPORTED[dialect].items():
        for kind, c in CONSTRAINTS.items():
            req = _request(c, mode)
            if kind not in kinds:
                with pytest.raises(dialects.Unsupported):
                    dialects.build(dialect, "m", req)
                continue
            wire = dialects.build(dialect, "m", req)
            assert wire.body["seed"] == 1 and wire.body["max_tokens"] >= 8 and wire.body["model"] == "m"
            assert wire.path == ("/chat/completions" if mode == "chat" else "/completions")
            if kind != "text":
                fields = WHERE[dialect] if isinstance(WHERE[dialect], tuple) else (WHERE[dialect],)
                assert any(f in wire.body for f in fields), (dialect, mode, kind, wire.body)


def test_openai_strict_schema_and_unwrapped_choice() -> None:
    wire = dialects.build("openai", "m", _request(CONSTRAINTS["json"]))
    schema = wire.body["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["t"] and schema["additionalProperties"] is False
    assert "maxLength" not in schema["properties"]["t"]
    choice = dialects.build("openai", "m", _request(CONSTRAINTS["select"]))
    answer = {"choices": [{"message": {"content": '{"value": "b"}'}, "finish_reason": "stop"}]}
    assert dialects.read(choice, answer, ()).text == "b"
    with pytest.raises(dialects.Malformed):
        dialects.read(choice, {"choices": [{"message": {"content": "b"}}]}, ())


def test_compile_accepts_each_dialect_and_reports_the_model_where_it_is() -> None:
    for dialect in SUPPORTED:
        text = RECIPE.format(url="http://127.0.0.1:1/v1", dialect=dialect, n=1, retries=0, timeout=1, output="",
                             max_tokens=8)
        result = __import__("synthc.compiler", fromlist=["compile_text"]).compile_text(text, os.path.join(ROOT, "x.synth"))
        assert result.ok, result.diagnostics
        assert result.program is not None and result.program.model("served").endpoint.dialect == dialect


# -- constraints the server did not enforce ----------------------------------------------------

LABEL_OUTPUT = """
  output {
    label = label()
  }
"""


def test_answers_that_break_the_constraint_are_rejected_counted_and_warned(
        tmp_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A server that ignores `structured_outputs` (here: answers whatever its script says): the two
    answers that are not labels are rejected as `unenforced`, the two that are kept."""
    tmp = str(tmp_path)
    log = os.path.join(tmp, "events.jsonl")
    with fault_server(["say:positive", "say:negative", "say:probably positive", "ok"]) as server:
        spec = _spec(tmp, server.url, dialect="vllm", output=LABEL_OUTPUT)
        _build(spec, events=log)
        assert all("structured_outputs" in r for r in server.requests)
    assert sorted(r["label"] for r in _rows(tmp)) == ["negative", "positive"]
    manifest = json.load(open(os.path.join(tmp, "out", "manifest.json")))
    assert manifest["dropped"]["default"]["unenforced"] == 2
    reasons = [json.loads(line)["reason"] for line in open(log) if '"row_rejected"' in line]
    assert len(reasons) == 2
    assert all(f"the vllm server at {server.url} did not enforce the select constraint" in r for r in reasons)
    err = capsys.readouterr().err
    assert "warning: 2 of 4 rows of `reviews" in err and "(unenforced)" in err and "vllm server" in err


@pytest.mark.parametrize("dialect,output,good,bad", [
    ("sglang", "\n  output {\n    code = regex(\"[A-Z]{2}-[0-9]\")\n  }\n", "AB-1", "AB-12"),
    ("ollama", JSON_OUTPUT, '{"text": "fine", "label": "positive"}', '{"text": "fine", "label": "neutral"}'),
    ("ollama", JSON_OUTPUT, '{"text": "fine", "label": "positive"}', "text: fine"),
])
def test_regex_and_json_answers_are_checked_too(tmp_path: str, dialect: str, output: str, good: str, bad: str) -> None:
    tmp = str(tmp_path)
    with fault_server([f"say:{good}"] + [f"say:{bad}"] * 3) as server:
        spec = _spec(tmp, server.url, dialect=dialect, output=output)
        _build(spec)
    manifest = json.load(open(os.path.join(tmp, "out", "manifest.json")))
    assert manifest["dropped"]["default"] == {"unenforced": 3} and len(_rows(tmp)) == 1


# -- a key in the URL --------------------------------------------------------------------------

URL_KEY = "sk-url-9876543210-do-not-leak"


def test_a_key_in_the_url_is_sent_as_basic_auth_and_written_nowhere(tmp_path: str) -> None:
    tmp = str(tmp_path)
    log = os.path.join(tmp, "events.jsonl")
    with fault_server() as server:
        url = server.url.replace("http://", f"http://synth:{URL_KEY}@")
        spec = _spec(tmp, url)
        with open(spec, encoding="utf-8") as fh:  # basic auth only: no api_key_env (a bearer key wins)
            text = fh.read().replace('  api_key_env = "SYNTHC_TEST_API_KEY"\n', "")
        with open(spec, "w", encoding="utf-8") as fh:
            fh.write(text)
        runs = [subprocess.run([sys.executable, "-m", "synthc", *args], capture_output=True, text=True, cwd=tmp)
                for args in (["build", spec, "--events", log], ["plan", spec], ["plan", spec, "--json"])]
        assert runs[0].returncode == 0, runs[0].stderr
        auth = __import__("base64").b64encode(f"synth:{URL_KEY}".encode()).decode()
        assert server.headers and all(h["authorization"] == f"Basic {auth}" for h in server.headers)
    manifest = json.load(open(os.path.join(tmp, "out", "manifest.json")))
    assert manifest["model"]["endpoint"] == server.url  # the URL without its userinfo
    down = url.replace(str(server.port), str(__import__("servers").free_port()))  # nobody listens: E511
    with open(spec, "w", encoding="utf-8") as fh:
        fh.write(text.replace(url, down))
    failed = subprocess.run([sys.executable, "-m", "synthc", "build", spec, "--events", log],
                            capture_output=True, text=True, cwd=tmp)
    assert failed.returncode == 1 and "error[E511]" in failed.stderr and "Traceback" not in failed.stderr
    spoken = "".join(r.stdout + r.stderr for r in (*runs, failed))
    assert URL_KEY not in spoken and URL_KEY.encode() not in _everything_written(tmp, but=spec)  # lock, manifest, events, cache


# -- prefix-affine routing on the real server ----------------------------------------------------

@pytest.mark.model
def test_routed_requests_reuse_the_slot_cache() -> None:
    """Two few-shot prefixes interleaved, 8 requests in one group on a 2-slot llama.cpp server:
    routed, each slot evaluates its prefix once and reuses it for the rest (timings.prompt_n)."""
    demos = {k: f"Examples of {k} headlines:\n" + "\n".join(f"{i}. The {k} desk reports item number {i} today."
                                                           for i in range(30)) for k in ("sports", "science")}
    reqs = [Request(messages=(("user", demos["sports" if i % 2 else "science"] + f"\nWrite headline #{i}."),),
                    mode="chat", constraint=Constraint(), max_tokens=2, temperature=0.7, top_p=0.9, stop=(), seed=i)
            for i in range(8)]
    with llama_server(parallel=2) as server:
        ep = ir.Endpoint(url=server.url, served_model="smollm2-135m", dialect="llama_cpp", api_key_env=None,
                         timeout=300, concurrency=8, adaptive=False, retries=1)
        be = EndpointBackend(ep, "chat", 1024)
        assert be.slots == 2
        out = be.generate_batch(reqs)
        be.close()
    sent, evaluated = sum(c.prompt_tokens for c in out), sum(c.evaluated_tokens for c in out)
    assert sent > 8 * 300 and evaluated <= 0.5 * sent, (evaluated, sent)
    assert sum(c.evaluated_tokens < c.prompt_tokens // 2 for c in out) >= 6  # all but each slot's first
