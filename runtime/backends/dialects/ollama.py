"""Ollama's OpenAI-compatible API: a JSON schema in `response_format` on the chat endpoint only
(a choice travels as {"value": ...} and is unwrapped); no regex, no tokenizer endpoint."""

from __future__ import annotations

from synthc.compiler.dialects import get
from synthc.runtime.backends.dialects.base import Dialect

__all__ = ["Ollama"]


class Ollama(Dialect):
    spec = get("ollama")  # the base class's OpenAI-compatible behaviour is exactly Ollama's
