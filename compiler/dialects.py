"""The server dialects a served model may name, as the compiler sees them: one `DialectSpec` per
dialect, registered by name. The compiler reads only what it checks — the name, its docs (hover,
completion, E315's help) and which output constraints the dialect can enforce in each mode; the
runtime's half of each dialect (the request fields, the answers, /props, slots) is a class in
runtime/backends/dialects/<name>.py whose `spec` is the entry here, and a test checks that the
two registries name the same dialects. Adding a dialect = one spec here + one class there."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DialectSpec", "DIALECTS", "NAMES", "register", "get", "able"]

ALL = frozenset({"text", "select", "regex", "json", "template"})  # a template travels as its regex
JSON_ONLY = frozenset({"text", "select", "json"})  # `select` sent as a JSON-schema enum
TEXT = frozenset({"text"})


@dataclass(frozen=True, slots=True)
class DialectSpec:
    name: str
    doc: str  # one line: what server it is and how it constrains (hover, completion, docs)
    chat: frozenset[str]  # constraint kinds the server enforces on /chat/completions
    completion: frozenset[str]  # ... and on /completions
    # The server continues a final assistant message on /chat/completions (`parse.prefill`); a
    # completion prompt can always end with it.
    prefill: bool = True

    def constrains(self, mode: str) -> frozenset[str]:
        return self.chat if mode == "chat" else self.completion


DIALECTS: dict[str, DialectSpec] = {}


def register(spec: DialectSpec) -> DialectSpec:
    assert spec.name not in DIALECTS, f"dialect {spec.name} registered twice"
    DIALECTS[spec.name] = spec
    return spec


def get(name: str) -> DialectSpec:
    return DIALECTS[name]


def able(kind: str, mode: str) -> list[str]:
    """The dialects that can enforce `kind` in `mode`, in registration order (E315's help)."""
    return [d.name for d in DIALECTS.values() if kind in d.constrains(mode)]


# Registration order is the order docs, completion and help lines list them.
register(DialectSpec("llama_cpp", "llama.cpp's server: every constraint as `json_schema` (GBNF underneath); "
                                  "/props identity, /tokenize, prefix-affine slots", ALL, ALL))
register(DialectSpec("vllm", "vLLM >= 0.10.2: `structured_outputs` choice / regex / json; /tokenize; "
                             "`continue_final_message` for a prefill", ALL, ALL))
register(DialectSpec("sglang", "SGLang: `regex` and `json_schema` / `response_format`; "
                               "`continue_final_message` for a prefill", ALL, ALL))
register(DialectSpec("ollama", "Ollama's OpenAI API: a JSON schema in `response_format`, chat mode only",
                     JSON_ONLY, TEXT))
register(DialectSpec("openai", "a plain OpenAI-compatible API (hosted): strict `response_format`, "
                               "chat mode only; at most 4 stops; no prefill", JSON_ONLY, TEXT, prefill=False))

NAMES: tuple[str, ...] = tuple(DIALECTS)
