"""Checks of models served over HTTP: a model names a file or an endpoint (not both, not neither),
endpoint settings only next to an endpoint, and every task's output constraint expressible in its
model's server dialect — a constraint a server cannot enforce is a compile-time error here, not a
runtime surprise. `SUPPORTED` is the one table of what each dialect can constrain; the runtime's
request builders (runtime/backends/dialects.py) implement exactly these cells."""

from __future__ import annotations

from synthc.compiler.diagnostics import Sink
from synthc.compiler.ir import constraint_kind
from synthc.compiler.schema import ENDPOINT_FIELDS
from synthc.compiler.source import Span
from synthc.compiler.values import Values, Variant

__all__ = ["SUPPORTED", "HOW", "check_endpoints"]

_ALL = frozenset({"text", "select", "regex", "json"})
_JSON_ONLY = frozenset({"text", "select", "json"})  # `select` sent as a JSON-schema enum
# dialect -> mode -> constraint kinds the server enforces.
SUPPORTED: dict[str, dict[str, frozenset[str]]] = {
    "llama_cpp": {"chat": _ALL, "completion": _ALL},  # json_schema (GBNF underneath)
    "vllm": {"chat": _ALL, "completion": _ALL},  # guided_choice / guided_regex / guided_json
    "sglang": {"chat": _ALL, "completion": _ALL},  # regex / json_schema
    "ollama": {"chat": _JSON_ONLY, "completion": frozenset({"text"})},  # response_format on chat only
    "openai": {"chat": _JSON_ONLY, "completion": frozenset({"text"})},  # response_format on chat only
}
# What a user can switch to, per constraint kind (for the help line).
HOW = {"regex": "use dialect llama_cpp, vllm or sglang",
       "select": "use `mode = chat`, or dialect llama_cpp, vllm or sglang",
       "json": "use `mode = chat`, or dialect llama_cpp, vllm or sglang"}
_ONLY_ENDPOINT = tuple(f.name for f in ENDPOINT_FIELDS)


def check_endpoints(decls: dict[str, dict[str, Values]], tasks: dict[str, list[Variant]], sink: Sink) -> None:
    """A program rule (compiler/rules.py runs it with the others)."""
    models = decls["model"]
    for name, m in models.items():
        _check_model(name, m, sink)
    for variants in tasks.values():
        for v in variants:
            m = models.get(str(v.values.values.get("model", "")))
            if m is None or "endpoint" not in m.values:
                continue
            _check_constraint(v, v.blocks.get("output"), m, sink)


def _check_model(name: str, m: Values, sink: Sink) -> None:
    has_file, has_endpoint = "gguf" in m.values, "endpoint" in m.values
    if not has_file and not has_endpoint:
        keyword = Span(m.origin.file, m.origin.start, m.origin.start + len("model"))
        sink.error("E202", f"model `{name}` is missing `gguf` or `endpoint`", keyword, "missing `gguf` or `endpoint`",
                   help='add `gguf = builtin("smollm2-135m")` (a file) or `endpoint = "http://127.0.0.1:8080/v1"` (a server)')
        return
    if has_file and has_endpoint:
        sink.error("E316", f"model `{name}` names both a file and an endpoint", m.spans["endpoint"],
                   "a server here", secondary=((m.spans["gguf"], "and a file here"),),
                   help="keep `gguf` to run the model in-process, or `endpoint` to use a server")
        return
    if has_endpoint:
        url = str(m.values["endpoint"])
        if not url.startswith(("http://", "https://")):
            sink.error("E203", f"`endpoint` of model `{name}` is not an http(s) URL", m.spans["endpoint"],
                       "expected http://… or https://…", help='e.g. `endpoint = "http://127.0.0.1:8080/v1"`')
        return
    for field in _ONLY_ENDPOINT:
        if field in m.spans:
            sink.error("E316", f"`{field}` applies to a served model, but model `{name}` runs a file",
                       m.spans[field], "endpoint setting", secondary=((m.spans["gguf"], "file model"),),
                       help=f"remove `{field}`, or replace `gguf` by `endpoint`")


def _check_constraint(v: Variant, output: Values | None, m: Values, sink: Sink) -> None:
    if output is None:
        return
    types = tuple(value[0] for value, _ in output.open.values()) + ("object",) * len(output.children)
    kind = constraint_kind(types)
    dialect, mode = str(m.values["dialect"]), str(m.values["mode"])
    if kind in SUPPORTED[dialect][mode]:
        return
    span = next(iter(output.open.values()))[1] if len(types) == 1 and output.open else output.origin
    what = {"select": "a choice among fixed options", "regex": "a regular expression",
            "json": "a JSON object"}[kind]
    sink.error("E315", f"the `{dialect}` server dialect cannot constrain output to {what} in {mode} mode "
               f"({v.label}, model `{m.name}`)", span,
               f"needs a {kind} constraint", secondary=_dialect_note(m),
               help=f"{HOW[kind]}; or loosen the output to a string and filter afterwards")


def _dialect_note(m: Values) -> tuple[tuple[object, str], ...]:
    if "dialect" in m.spans:
        return ((m.spans["dialect"], "dialect set here"),)
    return ((m.spans["endpoint"], "no `dialect`: the plain `openai` one"),)
