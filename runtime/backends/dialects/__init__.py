"""Server dialects, registered by name: one class per dialect, one module each (llama_cpp.py,
vllm.py, sglang.py, ollama.py, openai.py), the shared shape and the OpenAI defaults in base.py.
The compiler's half of each (its name, docs and constraint table) is compiler/dialects.py; a test
checks both registries name the same dialects. `build` and `read` are the one-call forms."""

from __future__ import annotations

from typing import Any

from synthc.runtime.backends.base import Request
from synthc.runtime.backends.dialects.base import Answer, Dialect, Facts, Malformed, Unsupported, Wire
from synthc.runtime.backends.dialects.llama_cpp import LlamaCpp
from synthc.runtime.backends.dialects.ollama import Ollama
from synthc.runtime.backends.dialects.openai import OpenAI
from synthc.runtime.backends.dialects.sglang import Sglang
from synthc.runtime.backends.dialects.vllm import Vllm

__all__ = ["Wire", "Answer", "Facts", "Malformed", "Unsupported", "Dialect", "REGISTRY", "get", "build", "read"]

REGISTRY: dict[str, Dialect] = {d.name: d for d in (LlamaCpp(), Vllm(), Sglang(), Ollama(), OpenAI())}


def get(name: str) -> Dialect:
    return REGISTRY[name]


def build(dialect: str, model_id: str, request: Request) -> Wire:
    return REGISTRY[dialect].build(model_id, request)


def read(wire: Wire, data: Any, stops: tuple[str, ...]) -> Answer:
    """The completion in a 200 answer; Malformed when it is not one."""
    return REGISTRY[wire.dialect].read(wire, data, stops)
