"""A model served over HTTP by an OpenAI-compatible server (llama.cpp's server, vLLM, SGLang,
Ollama, a hosted API): requests go out concurrently, constraints are enforced server-side in the
dialect's own fields (dialects/) and checked again here (verify.py), transient failures are
retried with backoff, and on a server with prompt-cache slots (llama.cpp) the requests that share a
prefix are pinned to the same slot in prefix order (routing.py).

httpx, not the stdlib: one thread-safe connection pool shared by every worker thread (keep-alive
to the server's slots), separate connect/read timeouts, and typed transport errors that tell a
refused connection from a timeout — which is what retry and AIMD decisions turn on.

Identity: the fingerprint (part of every cache key) is the served model id plus what the server
reports about the weights — the /v1/models entry (volatile keys dropped) and, for llama.cpp,
/props (model file name, chat template, build). The API key is read from the environment variable
the recipe names, kept in the client's headers only, and redacted from every message; a key in the
URL's userinfo never reaches here in the URL (lowering splits it off, compiler/endpoints.py) and is
sent as HTTP basic auth.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence
from urllib.parse import unquote

from synthc.compiler import ir
from synthc.runtime.backends import dialects, routing
from synthc.runtime.backends.base import Completion, Request
from synthc.runtime.backends.verify import violation

__all__ = ["EndpointBackend", "EndpointError", "EndpointUnavailable", "EndpointRefused", "ApiKeyMissing", "Limiter"]

_TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
_CONGESTION_STATUS = {429, 503}
_VOLATILE = {"created", "modified_at", "expires_at", "aliases", "tags", "status"}


class EndpointError(Exception):
    """Base of the endpoint's failures; messages never contain the API key."""


class EndpointUnavailable(EndpointError):
    """The server cannot be reached or keeps failing after every retry. `partial` holds the
    completions of the failed group that did finish (None for the others), so none is lost."""

    def __init__(self, message: str, partial: Sequence[Completion | None] = ()) -> None:
        super().__init__(message)
        self.partial = list(partial)


class EndpointRefused(EndpointError):
    """A non-transient HTTP error (bad request, auth, unknown model): retrying cannot help."""


class ApiKeyMissing(EndpointError):
    pass


class Limiter:
    """Requests in flight: a fixed cap, or additive-increase / multiplicative-decrease between
    1 and the cap (+1 per `limit` successes, halved on 429, 503 or a timeout) when adaptive."""

    def __init__(self, cap: int, adaptive: bool) -> None:
        self.cap, self.adaptive = cap, adaptive
        self.limit = float(min(cap, 4) if adaptive else cap)
        self.in_flight = 0
        self.lowest = self.limit
        self._cv = threading.Condition()

    def acquire(self) -> None:
        with self._cv:
            while self.in_flight >= int(self.limit):
                self._cv.wait()
            self.in_flight += 1

    def release(self, congested: bool = False, ok: bool = False) -> None:
        with self._cv:
            self.in_flight -= 1
            if self.adaptive and congested:
                self.limit = max(1.0, self.limit / 2)
                self.lowest = min(self.lowest, self.limit)
            elif self.adaptive and ok:
                self.limit = min(float(self.cap), self.limit + 1.0 / self.limit)
            self._cv.notify_all()


class EndpointBackend:
    name = "endpoint"

    def __init__(self, endpoint: ir.Endpoint, mode: str, context: int, *, backoff: float = 0.5,
                 route: bool = True) -> None:
        """`route`: pin requests that share a prefix to one server slot where the dialect can."""
        import httpx

        self.ep, self.mode, self.context, self.backoff = endpoint, mode, context, backoff
        self.dialect = dialects.get(endpoint.dialect)
        self._key = ""
        if endpoint.api_key_env:
            self._key = os.environ.get(endpoint.api_key_env, "")
            if not self._key:
                raise ApiKeyMissing(f"the environment variable `{endpoint.api_key_env}` (api_key_env) is not set")
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        # `http://user:KEY@host/v1`: basic auth, unless api_key_env names a bearer key (that wins).
        user, _, password = endpoint.userinfo.partition(":")
        auth = httpx.BasicAuth(unquote(user), unquote(password)) if endpoint.userinfo and not self._key else None
        limits = httpx.Limits(max_connections=endpoint.concurrency + 4, max_keepalive_connections=endpoint.concurrency + 4)
        self._http = httpx.Client(headers=headers, limits=limits, auth=auth,
                                  timeout=httpx.Timeout(endpoint.timeout, connect=min(10.0, endpoint.timeout)))
        self._pool = ThreadPoolExecutor(endpoint.concurrency, thread_name_prefix="synthc-endpoint")
        self.limiter = Limiter(endpoint.concurrency, endpoint.adaptive)
        self.root = endpoint.url[: -len("/v1")] if endpoint.url.endswith("/v1") else endpoint.url
        self._tokens: dict[str, int] = {}
        self.retried = 0  # transient failures retried
        self.unenforced = 0  # constrained answers the server sent that break the constraint
        self._count = threading.Lock()
        self.model_id, self.identity, facts = self._probe()
        self.slots = facts.slots if route else 0  # 0: the server picks slots itself
        self._last: list[str | None] = [None] * self.slots  # the prefix each slot served last
        self._fingerprint = "endpoint:" + hashlib.sha256(
            json.dumps(self.identity, sort_keys=True).encode()).hexdigest()

    # -- identity ----------------------------------------------------------------------------
    def _probe(self) -> tuple[str, dict[str, Any], dialects.Facts]:
        listing = self._get(self.ep.url + "/models")
        entries = [e for e in (listing.get("data") or []) if isinstance(e, dict) and "id" in e]
        if not entries:
            raise EndpointRefused(f"{self.ep.url}/models lists no model")
        wanted = self.ep.served_model
        entry = next((e for e in entries if e["id"] == wanted), None) if wanted else entries[0]
        if entry is None:
            names = ", ".join(str(e["id"]) for e in entries[:8])
            raise EndpointRefused(f"the server does not serve `{wanted}` (it serves: {names})")
        identity: dict[str, Any] = {"dialect": self.ep.dialect, "model": entry["id"],
                                    "entry": {k: v for k, v in entry.items() if k not in _VOLATILE}}
        facts = self.dialect.probe(self._get_optional)
        return str(entry["id"]), identity | facts.identity, facts

    def _get_optional(self, path: str) -> Any:
        """GET under the server root; None where the server refuses (llama.cpp's /props can be off)."""
        try:
            return self._get(self.root + path)
        except EndpointRefused:
            return None

    def _post_root(self, path: str, body: dict[str, Any]) -> Any:
        return self._post(self.root + path, body)

    def fingerprint(self) -> str:
        return self._fingerprint

    def info(self) -> dict[str, Any]:
        """What the lockfile and manifest record: where, which model, the server's identity."""
        return {"endpoint": self.ep.url, "dialect": self.ep.dialect, "served_model": self.model_id,
                "fingerprint": self._fingerprint, "server": self.identity.get("props", {}).get("build")}

    def capacity(self) -> int:
        return self.ep.concurrency

    def server_get(self, path: str) -> Any:
        """GET `path` under the server's root (not under /v1): what `synthc doctor` asks a server
        about itself (/version, /api/version). EndpointRefused when it answers no JSON."""
        return self._get(self.root + path)

    # -- generation ----------------------------------------------------------------------------
    def generate(self, request: Request) -> Completion:
        return self.generate_batch([request])[0]

    def generate_batch(self, requests: Sequence[Request]) -> list[Completion]:
        done: list[Completion | None] = [None] * len(requests)
        if self.slots:  # one worker per slot, sending its requests one after another in prefix order
            texts = [routing.prompt_text(r) for r in requests]
            with self._count:  # groups come one at a time per model (dispatch.py); the lock is cheap insurance
                plan = routing.assign(texts, self.slots, self._last)
                self._last = [routing.prefix_of(texts[order[-1]]) if order else self._last[s]
                              for s, order in enumerate(plan)]
            futures = [self._pool.submit(self._in_order, requests, order, slot, done)
                       for slot, order in enumerate(plan) if order]
        else:
            futures = [self._pool.submit(self._into, requests, i, done) for i in range(len(requests))]
        failure: BaseException | None = None
        for f in futures:  # wait for every request, so finished ones are never thrown away
            try:
                f.result()
            except BaseException as exc:  # noqa: BLE001 - re-raised below with the partial results
                failure = failure or exc
        if isinstance(failure, EndpointUnavailable):
            raise EndpointUnavailable(str(failure), done)
        if failure is not None:
            raise failure
        return [c for c in done if c is not None]

    def _into(self, requests: Sequence[Request], i: int, done: list[Completion | None]) -> None:
        done[i] = self._one(requests[i])

    def _in_order(self, requests: Sequence[Request], order: list[int], slot: int,
                  done: list[Completion | None]) -> None:
        for i in order:  # a failure stops this slot's run: the rest stay None (not done)
            done[i] = self._one(requests[i], slot)

    def _one(self, request: Request, slot: int | None = None) -> Completion:
        wire = self.dialect.build(self.model_id, request)
        if slot is not None:
            self.dialect.pin(wire.body, slot)
        data = self._post(self.ep.url + wire.path, wire.body)
        if isinstance(data, Exception):  # a 200 whose body is not JSON
            return _rejected(f"malformed response: {data}")
        try:
            a = self.dialect.read(wire, data, request.stop)
        except dialects.Malformed as exc:
            return _rejected(f"malformed response: {exc}")
        if a.finish == "stop" and (problem := self._violation(request, a.text)) is not None:
            with self._count:
                self.unenforced += 1
            return _rejected(f"the {self.ep.dialect} server at {self.ep.url} did not enforce the "
                             f"{request.constraint.kind} constraint: {problem}", drop="unenforced")
        return Completion(a.text, a.prompt_tokens, a.completion_tokens, a.evaluated_tokens, a.finish,
                          logprob=a.logprob)

    def _violation(self, request: Request, text: str) -> str | None:
        """Checked whatever the server claims; an answer the cap cut is the parse step's business."""
        c = request.constraint
        schema = self.dialect.enforced(json.loads(c.schema)) if c.schema else None  # as the dialect sent it
        return violation(c, text, schema)

    # -- HTTP with retries ---------------------------------------------------------------------
    def _get(self, url: str) -> Any:
        data = self._request("GET", url, None)
        if isinstance(data, Exception):
            raise EndpointRefused(f"GET {url}: the answer is not JSON")
        return data

    def _post(self, url: str, body: dict[str, Any]) -> Any:
        return self._request("POST", url, body)

    def _request(self, method: str, url: str, body: dict[str, Any] | None) -> Any:
        """The decoded JSON answer (or the ValueError of an undecodable 200). Transient failures
        are retried with exponential backoff and jitter, honouring Retry-After."""
        import httpx

        last = ""
        for attempt in range(self.ep.retries + 1):
            if attempt:
                with self._count:
                    self.retried += 1
            retry_after: float | None = None
            self.limiter.acquire()
            congested = ok = False
            try:
                resp = self._http.request(method, url, json=body)
            except httpx.TimeoutException:
                congested, last = True, f"no answer within {self.ep.timeout:g} s (timeout)"
            except httpx.TransportError as exc:
                last = f"connection failed ({type(exc).__name__}: {exc})"
            else:
                if resp.status_code == 200:
                    ok = True
                    try:
                        return resp.json()
                    except ValueError as exc:
                        return exc
                detail = self._redact(resp.text[:300].strip())
                if resp.status_code not in _TRANSIENT_STATUS:
                    raise EndpointRefused(f"{method} {url} answered HTTP {resp.status_code}: {detail}")
                congested = resp.status_code in _CONGESTION_STATUS
                last = f"HTTP {resp.status_code}: {detail}"
                retry_after = _seconds(resp.headers.get("retry-after"))
            finally:
                self.limiter.release(congested=congested, ok=ok)
            if attempt < self.ep.retries:
                delay = self.backoff * (2 ** attempt) * (0.5 + random.random() / 2)
                time.sleep(min(60.0, max(delay, retry_after or 0.0)))
        raise EndpointUnavailable(f"{self.ep.url} failed {self.ep.retries + 1} time(s); last: {self._redact(last)}")

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "[api key]") if self._key else text

    # -- tokens ----------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        if text not in self._tokens:
            self._tokens[text] = len(self._tokenize(text)) if self._can_tokenize else _estimate(text)
        return self._tokens[text]

    def truncate(self, text: str, max_tokens: int) -> str:
        if self.count_tokens(text) <= max_tokens:
            return text
        if not self._can_tokenize:  # about four characters a token; cut at a word boundary
            cut = text[: max_tokens * 4]
            return cut[: cut.rfind(" ")] if " " in cut else cut
        ids = self._tokenize(text)[:max_tokens]
        return self.dialect.detokenize(self._post_root, self.model_id, ids)

    @property
    def _can_tokenize(self) -> bool:
        return type(self.dialect).tokenize is not dialects.Dialect.tokenize

    def _tokenize(self, text: str) -> list[int]:
        tokens = self.dialect.tokenize(self._post_root, self.model_id, text)
        if not isinstance(tokens, list):
            raise EndpointRefused(f"{self.root}/tokenize answered no token list")
        return list(tokens)

    def render(self, request: Request) -> str:
        """The prompt as the server will see it where it can tell (llama.cpp's /apply-template);
        otherwise the messages role-tagged, which counts the same content."""
        if request.mode == "completion":
            return request.messages[0][1] + request.prefill
        prompt = self.dialect.template(self._post_root, [{"role": r, "content": c} for r, c in request.messages])
        if prompt is None:
            prompt = "\n".join(f"<{role}>\n{content}" for role, content in request.messages)
        return prompt + request.prefill

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def __repr__(self) -> str:  # never the key
        return f"EndpointBackend({self.ep.url!r}, {self.ep.dialect}, {self.model_id!r})"


def _rejected(reason: str, drop: str = "server_error") -> Completion:
    """A row the server answered with garbage: not cached, dropped by the parse step under `drop`
    (the manifest's count) with `reason` (the event log)."""
    return Completion("", 0, 0, 0, finish="error", extra={"error": reason[:300], "drop": drop})


def _estimate(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
