"""Metric speed: Self-BLEU-5 and Remote Clique / Chamfer on 5,000 real texts, and NLTK's pairwise
Self-BLEU on a 200-text subset for the ratio (same tokens, same answer to 1e-9).

    python bench/metrics.py [N]        # goal: each <= 30 s at N = 5,000 on 2 cores

Texts: AG News train + test + corpus from data/ag_news (real news), first N in file order.
"""

from __future__ import annotations

import json
import os
import sys
import time

from synthc.runtime.eval import metrics

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "ag_news")


def _texts(n: int) -> list[str]:
    out: list[str] = []
    for name in ("train.jsonl", "test.jsonl", "corpus.jsonl"):
        with open(os.path.join(DATA, name), encoding="utf-8") as fh:
            out += [json.loads(line)["text"] for line in fh]
    return out[:n]


def _nltk_self_bleu(docs: list[list[str]]) -> float:
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    smooth = SmoothingFunction().method1
    return sum(sentence_bleu(docs[:i] + docs[i + 1:], d, weights=(0.2,) * 5, smoothing_function=smooth)
               for i, d in enumerate(docs)) / len(docs)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    texts = _texts(n)
    tok, tok_name = metrics.tokenizer()
    t0 = time.perf_counter()
    docs = [tok(t) for t in texts]
    t_tok = time.perf_counter() - t0
    print(f"{len(docs)} texts, {sum(map(len, docs))} tokens ({tok_name}, {t_tok:.2f} s)")

    t0 = time.perf_counter()
    sb = metrics.self_bleu(docs, 5)
    t_ours = time.perf_counter() - t0
    print(f"Self-BLEU-1..5 exact, N={len(docs)}: {t_ours:.2f} s  (Self-BLEU-5 = {sb[5]:.6f})")

    sub = docs[:200]
    t0 = time.perf_counter()
    ref = _nltk_self_bleu(sub)
    t_nltk = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = metrics.self_bleu(sub, 5)[5]
    t_ours_sub = time.perf_counter() - t0
    print(f"N=200: NLTK {t_nltk:.2f} s vs synthc {t_ours_sub:.3f} s (ratio {t_nltk / t_ours_sub:.0f}x), "
          f"|diff| = {abs(ref - ours):.1e}")
    print(f"NLTK at N={len(docs)} extrapolated (O(N^2 · len)): {t_nltk * (len(docs) / 200) ** 2 / 60:.0f} min")

    from synthc.runtime.eval.embed import embedder

    emb_model = embedder("auto", texts)
    t0 = time.perf_counter()
    emb = emb_model.encode(texts)
    t_emb = time.perf_counter() - t0
    print(f"embeddings: {emb_model.name}: {t_emb:.1f} s")
    t0 = time.perf_counter()
    rc = metrics.remote_clique(emb)
    t_rc = time.perf_counter() - t0
    t0 = time.perf_counter()
    cd = metrics.chamfer(emb)
    t_cd = time.perf_counter() - t0
    print(f"Remote Clique {rc:.4f} in {t_rc:.3f} s; Chamfer {cd:.4f} in {t_cd:.3f} s (N={len(docs)})")


if __name__ == "__main__":
    main()
