"""Servers the endpoint tests talk to, all on 127.0.0.1: llama.cpp's real server (tests/llama_server.py,
the embedded SmolLM2 GGUF) and a tiny stdlib HTTP server that injects faults on a script
(429/503 bursts, slowness, malformed answers, a server that dies)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """llama.cpp's server in a child process (so a test can kill it like a crashed server)."""

    def __init__(self, port: int, parallel: int = 2) -> None:
        self.port, self.parallel = port, parallel
        self.url = f"http://127.0.0.1:{port}/v1"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> LlamaServer:
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tests", "llama_server.py"), "--port", str(self.port),
             "--parallel", str(self.parallel), "--threads", "1", "--ctx-per-slot", "1024"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "ready <url>" once /health answers
        assert line.startswith("ready"), f"llama.cpp server did not start: {line!r}"
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def llama_server(parallel: int = 2) -> Iterator[LlamaServer]:
    server = LlamaServer(free_port(), parallel).start()
    try:
        yield server
    finally:
        server.kill()


class FaultServer:
    """An OpenAI-compatible server that answers from a script, one entry per completion request:
    "ok", "429", "503", "500", "400", "slow:<seconds>", "malformed" (200 with a non-JSON body),
    "shapeless" (200 JSON without choices), "die" (drop the connection and stop listening, like a
    crashed server), "say:<text>" (200 answering exactly <text>, whatever the request's constraint
    asked: a server that ignores constraints). After the script runs out every request is "ok".
    An "ok" answer is a function of the request's seed and prompt only; it ignores constraints too."""

    def __init__(self, script: list[str] | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": "fault-model", "object": "model",
                                                                 "owned_by": "tests", "created": time.time()}]})
                else:
                    self._send(404, {"error": "no such path"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                with owner._lock:
                    owner.requests.append(body)
                    owner.headers.append({k.lower(): v for k, v in self.headers.items()})
                    step = owner.script.pop(0) if owner.script else "ok"
                    owner.in_flight += 1
                    owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
                try:
                    self._answer(step, body)
                finally:
                    with owner._lock:
                        owner.in_flight -= 1

            def _answer(self, step: str, body: dict[str, Any]) -> None:
                if step == "die":
                    threading.Thread(target=owner.stop, daemon=True).start()
                    self.close_connection = True
                    self.connection.close()
                    return
                if step.startswith("slow:"):
                    time.sleep(float(step[5:]))
                    step = "ok"
                if step in ("429", "503", "500", "400"):
                    self._send(int(step), {"error": {"message": f"injected {step}"}}, {"Retry-After": "0"})
                elif step == "malformed":
                    self._raw(200, b'{"choices": [ this is not json')
                elif step == "shapeless":
                    self._send(200, {"object": "chat.completion", "result": "where are the choices?"})
                else:
                    prompt = json.dumps(body.get("messages") or body.get("prompt"))
                    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]
                    text = f"reply {body['seed']} " + " ".join(words[(body["seed"] + i + len(prompt)) % 7] for i in range(5))
                    if step.startswith("say:"):
                        text = step[4:]
                    message = {"message": {"role": "assistant", "content": text}} if "messages" in body else {"text": text}
                    self._send(200, {"choices": [{"index": 0, "finish_reason": "stop", **message}],
                                     "usage": {"prompt_tokens": 10, "completion_tokens": 6}})

            def _send(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
                self._raw(status, json.dumps(data).encode(), headers)

            def _raw(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timeout) first
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def fault_server(script: list[str] | None = None) -> Iterator[FaultServer]:
    server = FaultServer(script)
    try:
        yield server
    finally:
        server.stop()
