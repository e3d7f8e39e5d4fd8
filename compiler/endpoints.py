"""Checks of models served over HTTP: a model names a file or an endpoint (not both, not neither),
endpoint settings only next to an endpoint, and every task's output constraint expressible in its
model's server dialect — a constraint a server cannot enforce is a compile-time error here, not a
runtime surprise. `SUPPORTED` is the table of what each dialect can constrain, read from the
dialect registry (compiler/dialects.py); the runtime's dialect classes (runtime/backends/dialects/)
implement exactly these cells. `redact_url` is the one home of hiding a URL's userinfo."""

from __future__ import annotations

from synthc.compiler.diagnostics import Sink
from synthc.compiler.dialects import DIALECTS, able
from synthc.compiler.outputs import KINDS, kind_for
from synthc.compiler.schema import ENDPOINT_FIELDS
from synthc.compiler.source import Span
from synthc.compiler.values import Values, Variant

__all__ = ["SUPPORTED", "HOW", "check_endpoints", "redact_url", "split_userinfo"]

# dialect -> mode -> constraint kinds the server enforces (compiler/dialects.py declares them).
SUPPORTED: dict[str, dict[str, frozenset[str]]] = {
    d.name: {"chat": d.chat, "completion": d.completion} for d in DIALECTS.values()}


def _how(kind: str) -> str:
    """What a user can switch to for `kind` (the help line): the dialects that enforce it in
    completion mode, and chat mode where more dialects can."""
    anywhere = able(kind, "completion")
    names = ", ".join(anywhere[:-1]) + " or " + anywhere[-1] if len(anywhere) > 1 else "".join(anywhere)
    chat_helps = set(able(kind, "chat")) != set(anywhere)
    return ("use `mode = chat`, or dialect " if chat_helps else "use dialect ") + names


HOW = {k.name: _how(k.name) for k in KINDS if k.name != "text"}  # free text: every server
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
            _check_prefill(v, v.blocks.get("parse"), m, sink)


# Decoder rules no server API takes (each step's own ban or bias): the code a served model gets
# for one, and what happens to the rows instead.
_ONLY_IN_PROCESS = {
    "no_repeat_ngram": ("E318", "and filter repeated rows afterwards"),
    "wrap_up": ("E319", "rows that run into `max_tokens` are then cut by `truncated` or dropped as `token_cap`"),
}


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
        for field, (code, instead) in _ONLY_IN_PROCESS.items():
            if field in m.spans:
                sink.error(code, f"model `{name}` is served, and a server cannot apply `{field}`",
                           m.spans[field], "a rule of the in-process llama.cpp decoder",
                           secondary=((m.spans["endpoint"], "served here"),),
                           help=f"remove `{field}` ({instead}), or run the model in-process with `gguf`")
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
    template = "template" in output.values
    k = kind_for(types, template)
    kind, what = k.name, k.what
    dialect, mode = str(m.values["dialect"]), str(m.values["mode"])
    if kind in SUPPORTED[dialect][mode]:
        return
    span = (output.spans["template"] if template else
            next(iter(output.open.values()))[1] if len(types) == 1 and output.open else output.origin)
    sink.error("E315", f"the `{dialect}` server dialect cannot constrain output to {what} in {mode} mode "
               f"({v.label}, model `{m.name}`)", span,
               f"needs a {kind} constraint", secondary=_dialect_note(m),
               help=f"{HOW[kind]}; or loosen the output to a string and filter afterwards")


def _check_prefill(v: Variant, parse: Values | None, m: Values, sink: Sink) -> None:
    if parse is None or "prefill" not in parse.values or str(m.values["mode"]) != "chat":
        return
    dialect = str(m.values["dialect"])
    if DIALECTS[dialect].prefill:
        return
    able_to = [d.name for d in DIALECTS.values() if d.prefill]
    sink.error("E317", f"the `{dialect}` server dialect cannot continue a prefilled answer ({v.label}, model "
               f"`{m.name}`)", parse.spans["prefill"], "a prefill needs the server to continue it",
               secondary=_dialect_note(m),
               help=f"use dialect {', '.join(able_to[:-1])} or {able_to[-1]}, `mode = completion`, or drop `prefill` "
                    "and strip the lead-in with `prefix`")


def _dialect_note(m: Values) -> tuple[tuple[object, str], ...]:
    if "dialect" in m.spans:
        return ((m.spans["dialect"], "dialect set here"),)
    return ((m.spans["endpoint"], "no `dialect`: the plain `openai` one"),)


def redact_url(url: str) -> str:
    """`url` without its userinfo (`http://user:KEY@host/v1` -> `http://host/v1`): the one
    function every URL that is written or printed goes through. Lowering keeps only this form in
    the IR, so locks, manifests, events, plans, dumps and messages cannot carry the key."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def split_userinfo(url: str) -> tuple[str, str]:
    """(the redacted URL, its userinfo `user:password` — "" when there is none). The userinfo is
    still sent to the server (HTTP basic auth); it lives only in a field the IR never prints."""
    from urllib.parse import urlsplit

    netloc = urlsplit(url).netloc
    return redact_url(url), netloc.rpartition("@")[0] if "@" in netloc else ""
