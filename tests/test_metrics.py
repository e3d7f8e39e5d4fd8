"""The metrics against their reference implementations on small inputs (NLTK, brute force)."""

from __future__ import annotations

import json
import math
import os
import random
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthc.runtime.eval import metrics
from synthc_tests_conftest import DATA

nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")


def _nltk_self_bleu(docs: list[list[str]], n: int) -> float:
    smooth = nltk_bleu.SmoothingFunction().method1
    w = (1 / n,) * n
    scores = [nltk_bleu.sentence_bleu(docs[:i] + docs[i + 1:], d, weights=w, smoothing_function=smooth)
              for i, d in enumerate(docs)]
    return sum(scores) / len(scores)


def _real_docs(k: int, seed: int) -> list[list[str]]:
    tok, _ = metrics.tokenizer()
    with open(os.path.join(DATA, "ag_news", "train.jsonl"), encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for _, line in zip(range(400), fh)]
    return [tok(t) for t in random.Random(seed).sample(texts, k)]


@pytest.mark.parametrize("seed", [0, 1])
def test_self_bleu_matches_nltk_on_real_text(seed: int) -> None:
    docs = _real_docs(40, seed)
    docs += [docs[0][:], docs[1][:3], [], docs[2][:1]]  # duplicates, short and empty documents
    ours = metrics.self_bleu(docs, 5)
    for n in range(1, 6):
        assert abs(ours[n] - _nltk_self_bleu(docs, n)) < 1e-9, n


words = st.lists(st.sampled_from(["a", "b", "c", "d", "the", "."]), max_size=9)


@settings(max_examples=150, deadline=None)
@given(st.lists(words, min_size=2, max_size=7))
def test_self_bleu_matches_nltk_on_any_small_corpus(docs: list[list[str]]) -> None:
    ours = metrics.self_bleu(docs, 4)
    for n in range(1, 5):
        assert abs(ours[n] - _nltk_self_bleu(docs, n)) < 1e-9


def test_sampled_self_bleu_is_the_mean_over_its_sample() -> None:
    docs = _real_docs(30, 3)
    exact = metrics.self_bleu(docs, 5)
    sampled = metrics.self_bleu(docs, 5, sample=30, seed=9)
    assert sampled == exact  # a sample of everything is everything
    est = metrics.self_bleu(docs, 5, sample=10, seed=1)
    idx = sorted(random.Random(1).sample(range(30), 10))
    smooth = nltk_bleu.SmoothingFunction().method1
    want = sum(nltk_bleu.sentence_bleu(docs[:i] + docs[i + 1:], docs[i], weights=(0.2,) * 5,
                                       smoothing_function=smooth) for i in idx) / 10
    assert abs(est[5] - want) < 1e-9


def test_distinct_n() -> None:
    assert metrics.distinct_n([["A", "b"], ["a", "c"]], 1) == 0.75
    assert metrics.distinct_n([["a", "b", "a", "b"]], 2) == 2 / 3
    assert metrics.distinct_n([[]], 2) == 0.0


def _brute(emb: np.ndarray) -> tuple[float, float]:
    e = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    n = len(e)
    d = [[1 - float(e[i] @ e[j]) for j in range(n) if j != i] for i in range(n)]
    return sum(sum(r) / len(r) for r in d) / n, sum(min(r) for r in d) / n


def test_remote_clique_and_chamfer_match_brute_force() -> None:
    emb = np.random.default_rng(0).normal(size=(37, 8))
    emb[5] = emb[6]  # a duplicate: Chamfer must see distance 0 for it, not skip it
    rc, cd = _brute(emb)
    assert abs(metrics.remote_clique(emb) - rc) < 1e-12
    assert abs(metrics.chamfer(emb) - cd) < 1e-12
    with pytest.raises(ValueError):
        metrics.chamfer(emb[:1])


def test_label_similarity_is_the_mean_pairwise_cosine() -> None:
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(12, 5))
    labels = ["x", "y", "x", "z"] * 3
    names, m = metrics.label_similarity(emb, labels)
    e = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    for a, la in enumerate(names):
        for b, lb in enumerate(names):
            pairs = [float(e[i] @ e[j]) for i in range(12) for j in range(12) if labels[i] == la and labels[j] == lb]
            assert abs(m[a][b] - sum(pairs) / len(pairs)) < 1e-6


def test_top_k_similarity_matches_brute_force() -> None:
    rng = np.random.default_rng(2)
    real, syn = rng.normal(size=(9, 4)), rng.normal(size=(11, 4))
    r = real / np.linalg.norm(real, axis=1, keepdims=True)
    s = syn / np.linalg.norm(syn, axis=1, keepdims=True)
    want = np.mean([np.mean(sorted((r[i] @ s.T).tolist())[-5:]) for i in range(9)])
    assert abs(metrics.top_k_similarity(real, syn, 5) - want) < 1e-12


def test_entity_entropy_per_type_and_pooled() -> None:
    out = metrics.entity_entropy([[("Paris", "GPE"), ("Bob", "PERSON")], [("Paris", "GPE"), ("Rome", "GPE")]])
    assert out["per_type"] == {"GPE": round(-(2 / 3) * math.log2(2 / 3) - (1 / 3) * math.log2(1 / 3), 6), "PERSON": 0.0}
    assert out["pooled"] == 1.5 and out["entities"] == 4 and out["unique"] == 3
    assert metrics.entropy_bits(Counter()) == 0.0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=1, max_size=20), st.lists(st.integers(0, 60), min_size=1, max_size=20))
def test_wasserstein_1d_matches_scipy(a: list[int], b: list[int]) -> None:
    from scipy.stats import wasserstein_distance

    assert abs(metrics.wasserstein_1d(a, b) - wasserstein_distance(a, b)) < 1e-9


def test_length_stats_match_numpy() -> None:
    xs = [3, 9, 1, 40, 7, 7, 12]
    got = metrics.length_stats(xs)
    assert got["mean"] == pytest.approx(np.mean(xs)) and got["std"] == pytest.approx(np.std(xs, ddof=1))
    for p in (10, 50, 90):
        assert got[f"p{p}"] == pytest.approx(np.percentile(xs, p))
    assert (got["min"], got["max"]) == (1.0, 40.0)
    assert metrics.length_stats([5])["std"] == 0.0
