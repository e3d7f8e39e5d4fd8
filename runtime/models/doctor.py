"""`synthc doctor`: what a build will meet, found before it starts.

For each model a recipe names (or one model given on the command line):

- a served model (`endpoint`): can the server be reached, does it serve the model, which context
  it serves (llama.cpp: per slot, `/v1/models` meta.n_ctx; vLLM: max_model_len), its version where
  the dialect exposes one, and — one tiny request per constraint kind the recipe uses, sent
  exactly as a build sends it (dialects.py) — whether the server enforces it: the answer is
  checked here (an option of the choice, a full match of the regex, JSON that follows the
  schema). Servers differ here across kinds and versions (vLLM moved `guided_*` to
  `structured_outputs`; a server may ignore a field it does not know and return free text).
- a local GGUF: does it load, its context (and the context it was trained with), the batch width
  the backend chose, and tokens/s measured on this machine with one batch of short generations;
  from that speed, an upper bound on the recipe's first round (every row at `max_tokens`).

Findings are coded: E511/E512/E513 (the server), E501 (the model file), E515 (the recipe's
`context` exceeds the server's), E516 (a constraint the server does not enforce), E517 (a first
round that would take hours at the measured speed, a warning). `synthc build` runs the cheap part
(`check_served_context`: the server's context, from the model listing the build fetches anyway)
before generating anything; `--no-doctor` skips it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from synthc.compiler import ir
from synthc.compiler.source import NO_SPAN, Span
from synthc.runtime.backends.base import Backend, Completion, Constraint, Request
from synthc.runtime.backends.constraints import kind as constraint_kind
from synthc.runtime.backends.verify import violation as verify_violation
from synthc.runtime.errors import RunFailed, fail

__all__ = ["Finding", "ModelCheck", "Report", "doctor", "doctor_model", "served_context", "check_served_context",
           "violation", "first_round", "SLOW_S"]

SLOW_S = 3600.0  # a first round estimated over an hour at the measured speed is worth a warning
_PROBE_TOKENS = 16  # per sequence of the speed probe: long enough to be decode-bound, short enough to be quick


@dataclass(frozen=True, slots=True)
class Finding:
    model: str
    check: str  # reach | context | constraint:<kind> | load | speed
    status: str  # ok | warning | error
    detail: str
    code: str | None = None  # every warning and error has one
    help: str = ""
    span: Span = NO_SPAN  # the model's declaration, when it comes from a recipe


@dataclass(slots=True)
class ModelCheck:
    name: str
    kind: str  # endpoint | local
    where: str  # URL or GGUF path
    facts: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


@dataclass(slots=True)
class Report:
    target: str
    models: list[ModelCheck]

    @property
    def findings(self) -> list[Finding]:
        return [f for m in self.models for f in m.findings]

    @property
    def errors(self) -> int:
        return sum(f.status == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.status == "warning" for f in self.findings)

    def as_json(self) -> str:
        def finding(f: Finding) -> dict[str, Any]:
            return {"check": f.check, "status": f.status, "code": f.code, "detail": f.detail, "help": f.help}

        data = {"schema_version": 1, "target": self.target, "errors": self.errors, "warnings": self.warnings,
                "models": [{"name": m.name, "kind": m.kind, "where": m.where, "facts": m.facts,
                            "findings": [finding(f) for f in m.findings]} for m in self.models]}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def as_text(self) -> str:
        rows = [("model", "check", "result", "")]
        for m in self.models:
            for f in m.findings:
                rows.append((m.name, f.check, f.status if f.code is None else f"{f.status} {f.code}", f.detail))
        width = [max(len(r[k]) for r in rows) for k in range(3)]
        lines = [f"synthc doctor: {self.target}", ""]
        for m in self.models:
            facts = ", ".join(f"{k} {v}" for k, v in m.facts.items() if v is not None)
            lines.append(f"{m.name} ({m.kind}, {m.where}): {facts}")
        lines.append("")
        lines += ["  ".join(r[k].ljust(width[k]) for k in range(3)) + "  " + r[3] for r in rows]
        lines += ["", f"{self.errors} error(s), {self.warnings} warning(s)"]
        return "\n".join(line.rstrip() for line in lines) + "\n"


# -- the whole check ---------------------------------------------------------------------------

def doctor(program: ir.Program, target: str) -> Report:
    """Check every model a variant of `program` uses, with the constraint kinds and first-round
    sizes of its variants."""
    checks = []
    for name in dict.fromkeys(v.model for v in program.variants()):
        m = program.model(name)
        uses = [v for v in program.variants() if v.model == name]
        checks.append(_served(m, program, uses) if m.endpoint is not None else _local(m, program.root, program, uses))
    return Report(target, checks)


def doctor_model(m: ir.Model, root: str, target: str, context_given: bool = True) -> Report:
    """Check one model named on the command line: a served one with a sample of every constraint
    kind its dialect supports (its context compared with `m.context` only when the user gave one),
    a local one for load and speed. With no recipe there is no project folder: the model's
    fingerprint is hashed without a memo, so nothing is written under `root` (the user's cwd)."""
    if m.endpoint is not None:
        return Report(target, [_served(m, None, [], compare_context=context_given)])
    return Report(target, [_local(m, root, None, [], memo=False)])


# -- served models -----------------------------------------------------------------------------

def served_context(be: Any) -> int | None:
    """The context the server gives one request, from the /v1/models entry the client fetched when
    it connected: llama.cpp's meta.n_ctx (per slot), vLLM's (and SGLang's) max_model_len."""
    entry = be.identity.get("entry", {})
    meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
    for value in (meta.get("n_ctx"), entry.get("max_model_len"), entry.get("context_length")):
        if isinstance(value, int) and value > 0:
            return value
    return None


def _context_finding(m: ir.Model, served: int | None) -> Finding:
    if served is None:
        return Finding(m.name, "context", "ok", f"recipe {m.context}; the server does not report its context")
    if m.context > served:
        return Finding(m.name, "context", "error",
                       f"the recipe's `context = {m.context}` exceeds the {served} tokens the server gives a request: "
                       f"a request over {served} tokens would be refused mid-build", "E515",
                       f"set `context = {served}` in model `{m.name}` (synthc then trims histories and stops "
                       "over-long prompts before sending them), or serve the model with a larger context",
                       m.origin)
    return Finding(m.name, "context", "ok", f"recipe {m.context} ≤ server {served}")


def check_served_context(models: Any, names: list[str]) -> None:
    """The cheap part of the doctor that `synthc build` runs before generating: E515 when a served
    model's recipe context exceeds what its server gives a request. Uses the connection the build
    opened anyway (no extra request); a fake build has no server and checks nothing."""
    if models.kind == "fake":
        return
    diags = []
    for name in dict.fromkeys(names):
        m = models.program.model(name)
        if m.endpoint is None:
            continue
        f = _context_finding(m, served_context(models.get(name)))
        if f.status == "error":
            diags += fail(f.code or "E515", f.detail, f.span, "model declared here", help=f.help).diagnostics
    if diags:
        raise RunFailed(diags)


def _served(m: ir.Model, program: ir.Program | None, uses: list[ir.Variant],
            compare_context: bool = True) -> ModelCheck:
    from synthc.runtime.models.served import open_endpoint

    assert m.endpoint is not None
    check = ModelCheck(m.name, "endpoint", m.endpoint.url, {"dialect": m.endpoint.dialect})
    try:
        started = time.perf_counter()
        be = open_endpoint(m)
    except RunFailed as failed:
        d = failed.diagnostics[0]
        check.findings.append(Finding(m.name, "reach", "error", d.message, d.code.id, d.help or "", m.origin))
        return check
    try:
        check.facts.update(served_model=be.model_id, context=served_context(be), server=_version(be),
                           listing_s=round(time.perf_counter() - started, 3))
        check.findings.append(Finding(m.name, "reach", "ok", f"serves `{be.model_id}`"))
        if compare_context:
            check.findings.append(_context_finding(m, check.facts["context"]))
        for c in _constraints(m, program, uses).values():
            check.findings.append(_probe_or_failure(m, be, c))
    finally:
        be.close()
    return check


def _probe_or_failure(m: ir.Model, be: Backend, c: Constraint) -> Finding:
    """The probe's finding; a server that refuses the constrained request (HTTP 400: a field it
    does not know) does not enforce the constraint (E516); one that stops answering is E511."""
    from synthc.runtime.backends.endpoint import EndpointRefused, EndpointUnavailable

    try:
        return _probe(m, be, c)
    except EndpointRefused as exc:
        return Finding(m.name, f"constraint:{c.kind}", "error", f"the server refused the `{c.kind}` request: {exc}",
                       "E516", constraint_kind(c).fix, m.origin)
    except EndpointUnavailable as exc:
        return Finding(m.name, f"constraint:{c.kind}", "error", f"the server stopped answering: {exc}", "E511",
                       "start or restart the server; raise `timeout` for a slow one", m.origin)


def _version(be: Any) -> str | None:
    """The server's version where the dialect exposes one (None where it does not, or on error)."""
    from synthc.runtime.backends.endpoint import EndpointError

    dialect = be.ep.dialect
    if dialect == "llama_cpp":
        build = be.identity.get("props", {}).get("build")
        return str(build) if build else None
    path = {"vllm": "/version", "sglang": "/get_server_info", "ollama": "/api/version"}.get(dialect)
    if path is None:
        return None
    try:
        data = be.server_get(path)
    except EndpointError:
        return None
    return str(data["version"]) if isinstance(data, dict) and data.get("version") else None


def _constraints(m: ir.Model, program: ir.Program | None, uses: list[ir.Variant]) -> dict[str, Constraint]:
    """One constraint per kind the model's variants use (the first variant's, sent as a build
    sends it); a bare model (no variants) gets a sample of every kind its dialect supports."""
    from synthc.compiler.endpoints import SUPPORTED
    from synthc.runtime.prompting.rows import variant_constraint

    out: dict[str, Constraint] = {}
    for v in uses:
        assert program is not None
        c = variant_constraint(v, program)
        if c.kind != "text":
            out.setdefault(c.kind, c)
    if uses or m.endpoint is None:
        return out
    samples = {"select": Constraint("select", ("yes", "no")), "regex": Constraint("regex", pattern="[A-Z]{2}-[0-9]{3}"),
               "json": Constraint("json", schema=json.dumps(_SAMPLE_SCHEMA, sort_keys=True))}
    return {k: c for k, c in samples.items() if k in SUPPORTED[m.endpoint.dialect][m.mode]}


_SAMPLE_SCHEMA = {"type": "object", "properties": {"answer": {"type": "string", "enum": ["yes", "no"]},
                                                   "n": {"type": "integer", "minimum": 0, "maximum": 9}},
                  "required": ["answer", "n"], "additionalProperties": False}
def _probe(m: ir.Model, be: Backend, c: Constraint) -> Finding:
    """Send one tiny request under `c` and check the answer here."""
    k = constraint_kind(c)
    ask = k.ask(c)
    messages = (("user", ask),) if m.mode == "chat" else (("text", ask + "\n"),)
    cap = min(m.max_tokens, k.probe_tokens)
    req = Request(messages, m.mode, c, cap, m.temperature, m.top_p, (), m.seed)
    started = time.perf_counter()
    out: Completion = be.generate_batch([req])[0]
    took = time.perf_counter() - started
    check = f"constraint:{c.kind}"
    if out.finish == "error":  # the client could not read it as the constrained answer
        return Finding(m.name, check, "error", f"not enforced: {out.extra.get('error', 'unreadable answer')}", "E516",
                       k.fix, m.origin)
    problem = violation(c, out.text)
    if problem is None:
        return Finding(m.name, check, "ok", f"enforced: answered {out.text[:60]!r} in {took:.1f} s")
    if out.finish == "length":
        return Finding(m.name, check, "warning", f"not verified: the answer stopped at max_tokens {cap} ({problem})",
                       "E516", f"raise `max_tokens` of model `{m.name}`", m.origin)
    return Finding(m.name, check, "error", f"not enforced: {problem}", "E516", k.fix, m.origin)


def violation(c: Constraint, text: str) -> str | None:
    """Why `text` is not an answer under `c`, or None when it is: the build's own check (verify.py)."""
    return verify_violation(c, text)


def _local(m: ir.Model, root: str, program: ir.Program | None, uses: list[ir.Variant],
           memo: bool = True) -> ModelCheck:
    from synthc.runtime.models.load import load_backend, model_path

    try:
        where = model_path(m, root)
    except RunFailed as failed:
        d = failed.diagnostics[0]
        check = ModelCheck(m.name, "local", m.gguf)
        check.findings.append(Finding(m.name, "load", "error", d.message, d.code.id, d.help or "", m.origin))
        return check
    check = ModelCheck(m.name, "local", where)
    started = time.perf_counter()
    try:
        be = load_backend(m, root, memo=memo)
    except RunFailed as failed:
        d = failed.diagnostics[0]
        check.findings.append(Finding(m.name, "load", "error", d.message, d.code.id, d.help or "", m.origin))
        return check
    try:
        loaded = time.perf_counter() - started
        width = be.capacity()
        check.facts.update(context=m.context, trained_context=_trained_context(be), batch_width=width,
                           threads=m.threads or "default", load_s=round(loaded, 2))
        check.findings.append(Finding(m.name, "load", "ok", f"loaded in {loaded:.1f} s"))
        speed = _speed(m, be, width)
        check.facts.update(speed)
        check.findings.append(Finding(
            m.name, "speed", "ok", f"{speed['tokens_per_s']} tok/s over a batch of {speed['sequences']} "
            f"({speed['tokens_per_s_one']} tok/s one sequence), measured on this machine"))
        if program is not None and uses:
            check.findings.append(first_round(m, program, uses, speed["tokens_per_s"]))
    finally:
        close = getattr(be, "close", None)
        if callable(close):
            close()
    return check


def _trained_context(be: Any) -> int | None:
    """The context the GGUF was trained with, where llama.cpp reports it."""
    try:
        return int(be.L.llama_model_n_ctx_train(be.model))
    except (AttributeError, TypeError, ValueError):
        return None


def _speed(m: ir.Model, be: Backend, width: int) -> dict[str, Any]:
    """Decode speed measured with real generations: one sequence, then a batch as wide as a
    build's groups (at most 4, to stay quick). Text-only, seeded: the same work every run."""
    def requests(n: int) -> list[Request]:
        msg = "Write one sentence about the sea."
        messages = (("user", msg),) if m.mode == "chat" else (("text", msg + "\n"),)
        return [Request(messages, m.mode, Constraint(), _PROBE_TOKENS, 0.8, 0.95, (), m.seed + i) for i in range(n)]

    rates = []
    n = 0
    for n in (1, max(1, min(width, 4))):
        started = time.perf_counter()
        outs = be.generate_batch(requests(n))
        took = max(time.perf_counter() - started, 1e-6)
        rates.append(sum(c.completion_tokens for c in outs) / took)
    return {"tokens_per_s": round(rates[-1], 1), "tokens_per_s_one": round(rates[0], 1), "sequences": n}


def first_round(m: ir.Model, program: ir.Program, uses: list[ir.Variant], rate: float) -> Finding:
    """An upper bound on the first round's generation time: every row at `max_tokens`."""
    from synthc.runtime.preview.estimate import duration
    from synthc.runtime.engine.quota import budget

    tokens = 0
    for v in uses:
        found = budget(v, program)
        tokens += (found[0] if found else 0) * m.max_tokens
    seconds = tokens / max(rate, 1e-6)
    text = f"first round: ≤ {tokens} tokens to generate, ≤ {duration(seconds)} at {rate:.0f} tok/s"
    if seconds > SLOW_S:
        return Finding(m.name, "speed", "warning", text + " (quota rounds add more)", "E517",
                       "lower the counts or `max_tokens`, or serve the model on a faster machine (`endpoint`, "
                       "docs/servers.md)", m.origin)
    return Finding(m.name, "speed", "ok", text)
