"""vLLM >= 0.10.2: constraints in `structured_outputs` (the `guided_*` fields were removed in
0.12), log-probabilities, and its /tokenize and /detokenize. Its automatic prefix cache is shared
by every request, so nothing is pinned."""

from __future__ import annotations

from typing import Any

from synthc.compiler.dialects import get
from synthc.runtime.backends.dialects.base import Dialect, Post

__all__ = ["Vllm"]


class Vllm(Dialect):
    spec = get("vllm")
    logprobs = True
    continue_final = True

    def select(self, options: list[str], mode: str, body: dict[str, Any]) -> str:
        body["structured_outputs"] = {"choice": options}
        return ""

    def regex(self, pattern: str, mode: str, body: dict[str, Any]) -> str:
        body["structured_outputs"] = {"regex": pattern}
        return ""

    def json(self, schema: dict[str, Any], mode: str, body: dict[str, Any]) -> str:
        body["structured_outputs"] = {"json": schema}
        return ""

    def tokenize(self, post: Post, model_id: str, text: str) -> list[int] | None:
        data = post("/tokenize", {"model": model_id, "prompt": text, "add_special_tokens": False})
        return data.get("tokens") if isinstance(data, dict) else None

    def detokenize(self, post: Post, model_id: str, ids: list[int]) -> str:
        return str(post("/detokenize", {"model": model_id, "tokens": ids})["prompt"])
