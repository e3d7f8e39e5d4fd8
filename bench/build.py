"""End-to-end build time against the raw sequential llama-cpp-python loop over the same requests.

    python bench/build.py                      # specs/synthesizrr_ag_news.synth --set per_label=15 (long)
    python bench/build.py --set per_label=2    # any overrides
    python bench/build.py --spec examples/fewshot.synth
    python bench/build.py --smoke              # tiny: examples/fewshot.synth on the fake backend (a test runs it)

Interleaved in one run: `synthc build` from a cold cache, the raw loop, `synthc build` again from
a cold cache. The raw loop is what a user would write by hand: one `Llama`, one
`create_completion` per request, in plan order, with the same prompts, sampling parameters, seeds,
token caps and stops that synthc sends (the requests come from synthc's own planner, so both do
the same work; the loop's time excludes data loading and retrieval, which the build includes).
Prints both wall times, the ratio, and whether the two builds wrote identical dataset bytes.
The evaluation node is left out (`--select export:…`): it measures metrics, not generation.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join("specs", "synthesizrr_ag_news.synth")
FULL = {"per_label": "15"}
SMOKE_SPEC = os.path.join("examples", "fewshot.synth")


def _workspace(spec: str) -> tuple[str, str]:
    """A scratch copy of the recipe beside the repository's data (relative paths keep working)."""
    tmp = tempfile.mkdtemp(prefix="synthc-bench-build-")
    os.makedirs(os.path.join(tmp, os.path.dirname(spec)))
    shutil.copy(os.path.join(ROOT, spec), os.path.join(tmp, spec))
    os.symlink(os.path.join(ROOT, "data"), os.path.join(tmp, "data"))
    with open(os.path.join(tmp, "synth.toml"), "w", encoding="utf-8") as fh:  # the link leads out of tmp
        fh.write(f'[paths]\nallow = ["{os.path.join(ROOT, "data")}"]\n')
    return tmp, os.path.join(tmp, spec)


def _export_nodes(spec: str, overrides: dict[str, str]) -> list[str]:
    from synthc.compiler import compile_or_raise

    plan = compile_or_raise(spec, overrides).plan
    assert plan is not None
    return [n for n in plan.order() if plan.step(n).kind == "export"]


def build(recipe: str, overrides: dict[str, str], backend: str) -> tuple[float, str, str]:
    """(seconds, sha256 over the dataset files, summary line) of one cold `synthc build`."""
    tmp, spec = _workspace(recipe)
    try:
        cmd = [sys.executable, "-m", "synthc", "build", spec, "--quiet", "--backend", backend]
        for k, v in sorted(overrides.items()):
            cmd += ["--set", f"{k}={v}"]
        for node in _export_nodes(spec, overrides):
            cmd += ["--select", node]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
        seconds = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"build failed:\n{done.stdout}\n{done.stderr}")
        h = hashlib.sha256()
        for path in sorted(glob.glob(os.path.join(tmp, "out", "**", "*.jsonl"), recursive=True)):
            with open(path, "rb") as fh:
                h.update(os.path.relpath(path, tmp).encode() + b"\0" + fh.read())
        return seconds, h.hexdigest(), done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def requests(recipe: str, overrides: dict[str, str]) -> list[tuple[Any, Any]]:
    """(ir.Model, Request) for every row, in plan order, from synthc's own planner."""
    from synthc.compiler import compile_or_raise
    from synthc.runtime.cache import Cache
    from synthc.runtime.models import ModelPool
    from synthc.runtime.progress import Events
    from synthc.runtime.rows import build_request
    from synthc.runtime.steps import Context, run_until

    tmp, spec = _workspace(recipe)
    try:
        plan = compile_or_raise(spec, overrides).plan
        assert plan is not None
        renders = [n for n in plan.order() if plan.step(n).kind == "render"]
        program = plan.program
        ctx = Context(plan, Cache(os.path.join(tmp, ".synthc")), Events(sys.stderr, True, None),
                      ModelPool(program, program.root, "fake"))
        try:
            values = run_until(ctx, renders)
        finally:
            ctx.cache.close()
        out = []
        for node in renders:
            v = plan.step(node).target
            out += [(program.model(v.model), build_request(v, program, r, [])[0]) for r in values[node]]
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def raw_loop(work: list[tuple[Any, Any]], backend: str) -> tuple[float, int]:
    """(seconds, generated tokens) of the hand-written sequential loop over `work`."""
    if backend == "fake":
        from synthc.runtime.backends.fake import FakeBackend

        fake = FakeBackend()
        t0 = time.perf_counter()
        tokens = sum(fake.generate(req).completion_tokens for _, req in work)
        return time.perf_counter() - t0, tokens
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from throughput import raw_llama  # bench/throughput.py: the raw `Llama` with synthc's weight layout

    from synthc.runtime.models import model_path

    model = work[0][0]
    llm = raw_llama(model_path(model, ROOT), model.context, model.threads or os.cpu_count() or 1)
    tokens = 0
    t0 = time.perf_counter()
    for _, req in work:
        kw = dict(max_tokens=req.max_tokens, temperature=req.temperature, top_p=req.top_p, top_k=0, min_p=0.0,
                  repeat_penalty=1.0, seed=req.seed, stop=list(req.stop) or None)
        if req.mode == "completion":
            out = llm.create_completion(req.messages[0][1], **kw)
        else:
            out = llm.create_chat_completion([{"role": r, "content": c} for r, c in req.messages], **kw)
        tokens += out["usage"]["completion_tokens"]
    return time.perf_counter() - t0, tokens


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help=f"tiny run: {SMOKE_SPEC} on the fake backend")
    ap.add_argument("--spec", help=f"the recipe, relative to the repository (default {SPEC})")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="recipe param override")
    args = ap.parse_args(argv)
    recipe = args.spec or (SMOKE_SPEC if args.smoke else SPEC)
    overrides = {} if args.smoke or args.spec else dict(FULL)
    overrides.update(dict(s.split("=", 1) for s in args.set))
    backend = "fake" if args.smoke else "llama"
    shown = "".join(f" --set {k}={v}" for k, v in sorted(overrides.items()))
    print(f"synthc build {recipe}{shown} --backend {backend} (exports only), cold cache, vs the raw loop")
    work = requests(recipe, overrides)
    first, sha1, summary = build(recipe, overrides, backend)
    print(f"  synthc build #1   {first:9.1f} s   {summary}")
    raw, tokens = raw_loop(work, backend)
    print(f"  raw loop          {raw:9.1f} s   {len(work)} requests, {tokens} generated tokens")
    second, sha2, _ = build(recipe, overrides, backend)
    print(f"  synthc build #2   {second:9.1f} s")
    best = min(first, second)
    print(f"ratio synthc build / raw loop: {best / max(raw, 1e-9):.3f} (best of two builds; < 1 means the build is faster)")
    print(f"identical dataset bytes on two runs: {'yes' if sha1 == sha2 else 'NO'} ({sha1[:16]})")
    return 0 if sha1 == sha2 else 1


if __name__ == "__main__":
    sys.exit(main())
