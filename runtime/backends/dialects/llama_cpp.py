"""llama.cpp's server (`llama-server`, or the `xllamacpp` wheel): every constraint as a JSON schema
it compiles to a GBNF grammar (top-level strings and enums included), identity and slots from
/props, its own /tokenize, /detokenize and /apply-template, and per-slot prompt caches a request
can be pinned to (`id_slot`, `cache_prompt`) — what prefix-affine routing (routing.py) uses."""

from __future__ import annotations

import os
from typing import Any

from synthc.compiler.dialects import get
from synthc.runtime.backends.dialects.base import Dialect, Facts, Get, Post

__all__ = ["LlamaCpp"]


class LlamaCpp(Dialect):
    spec = get("llama_cpp")
    logprobs = True

    def select(self, options: list[str], mode: str, body: dict[str, Any]) -> str:
        body["json_schema"] = {"enum": options}
        return "string"

    def regex(self, pattern: str, mode: str, body: dict[str, Any]) -> str:
        body["json_schema"] = {"type": "string", "pattern": f"^({pattern})$"}
        return "string"

    def json(self, schema: dict[str, Any], mode: str, body: dict[str, Any]) -> str:
        body["json_schema"] = schema
        return ""

    def pin(self, body: dict[str, Any], slot: int) -> None:
        body["id_slot"], body["cache_prompt"] = slot, True

    def evaluated(self, data: dict[str, Any], prompt_tokens: int) -> int:
        """`timings.prompt_n`: the prompt tokens this request evaluated (the slot's cache had the rest)."""
        n = (data.get("timings") or {}).get("prompt_n")
        return int(n) if isinstance(n, int) and n >= 0 else super().evaluated(data, prompt_tokens)

    def probe(self, get: Get) -> Facts:
        props = get("/props")  # None where the server runs without --props
        if not isinstance(props, dict):
            return Facts()
        settings = props.get("default_generation_settings") or {}
        slots = props.get("total_slots")
        context = settings.get("n_ctx") if isinstance(settings, dict) else None
        return Facts({"props": {"model": os.path.basename(str(props.get("model_path", ""))),
                                "chat_template": props.get("chat_template"), "build": props.get("build_info")}},
                     slots=slots if isinstance(slots, int) and slots > 0 else 0,
                     context=context if isinstance(context, int) else None)

    def tokenize(self, post: Post, model_id: str, text: str) -> list[int] | None:
        data = post("/tokenize", {"content": text, "add_special": False})
        return data.get("tokens") if isinstance(data, dict) else None

    def detokenize(self, post: Post, model_id: str, ids: list[int]) -> str:
        return str(post("/detokenize", {"tokens": ids})["content"])

    def template(self, post: Post, messages: list[dict[str, str]]) -> str | None:
        data = post("/apply-template", {"messages": messages})
        return data["prompt"] if isinstance(data, dict) and isinstance(data.get("prompt"), str) else None
