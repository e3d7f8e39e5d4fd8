"""The papers' data metrics as pure functions (no I/O, fixed seeds).

Definitions follow `research/seeds.md` §4. Each function takes plain lists or arrays and returns
numbers; the evaluation pass (`evaluate.py`) decides which to run and records their parameters.

Self-BLEU is exact NLTK `sentence_bleu` (uniform weights, smoothing method1) for every document
against all others, computed with counts instead of NLTK's pairwise loop: for each n-gram the two
largest per-document counts (and which document holds the largest) give the clip count "max over
all *other* documents" in O(1), and the brevity penalty's closest reference length comes from the
sorted length histogram. `tests/test_metrics.py` checks it against NLTK itself to 1e-9.
"""

from __future__ import annotations

import bisect
import math
import random
import re
from collections import Counter
from typing import Any, Callable, Sequence

__all__ = [
    "tokenizer", "self_bleu", "distinct_n", "remote_clique", "chamfer", "label_similarity",
    "top_k_similarity", "entity_entropy", "entropy_bits", "length_stats", "wasserstein_1d",
]

Tokens = list[str]
_WORD = re.compile(r"\w+|[^\w\s]")


def tokenizer() -> tuple[Callable[[str], Tokens], str]:
    """spaCy's rule-based English tokenizer (what SynthesizRR used, minus the lg model's
    pipeline) when spaCy is installed, else a regex word/punctuation split; returns its name too."""
    try:
        import spacy
    except ImportError:
        return (lambda s: _WORD.findall(s)), "regex \\w+|[^\\w\\s]"
    tok = spacy.blank("en").tokenizer
    return (lambda s: [t.text for t in tok(s) if not t.is_space]), f"spacy {spacy.__version__} blank('en') tokenizer"


def _ngrams(tokens: Tokens, n: int) -> Counter[tuple[str, ...]]:
    if len(tokens) < n:
        return Counter()
    return Counter(zip(*(tokens[k:] for k in range(n))))


def _clipped(docs: Sequence[Tokens], n: int) -> list[tuple[int, int]]:
    """Per document: (clipped n-gram matches against all other documents, n-gram count ∨ 1)."""
    counts = [_ngrams(t, n) for t in docs]
    top: dict[tuple[str, ...], list[int]] = {}  # gram -> [largest count, its document, second largest]
    for d, cnt in enumerate(counts):
        for g, c in cnt.items():
            b = top.get(g)
            if b is None:
                top[g] = [c, d, 0]
            elif c > b[0]:
                b[2], b[0], b[1] = b[0], c, d
            elif c > b[2]:
                b[2] = c
    out = []
    for d, cnt in enumerate(counts):
        num = 0
        for g, c in cnt.items():
            b = top[g]
            num += min(c, b[2] if b[1] == d else b[0])
        out.append((num, max(1, sum(cnt.values()))))
    return out


def _closest_other_length(lengths: list[int]) -> list[int]:
    """NLTK's closest_ref_length (ties → shorter) over every other document's length."""
    hist = Counter(lengths)
    uniq = sorted(hist)
    out = []
    for c in lengths:
        cands = [c] if hist[c] > 1 else []
        i = bisect.bisect_left(uniq, c)
        if i > 0:
            cands.append(uniq[i - 1])
        j = i + 1 if i < len(uniq) and uniq[i] == c else i
        if j < len(uniq):
            cands.append(uniq[j])
        out.append(min(cands, key=lambda r: (abs(r - c), r)))
    return out


def self_bleu(docs: Sequence[Tokens], max_n: int = 5, sample: int | None = None,
              seed: int = 0) -> dict[int, float]:
    """Self-BLEU-n for n = 1..max_n: mean over hypotheses i of BLEU_n(doc_i; all docs ≠ i).

    `sample` averages over that many hypotheses drawn with `seed` (references stay complete): an
    unbiased estimate of the same mean, for corpora where even the counted version is too slow.

    >>> round(self_bleu([["a", "b"], ["a", "b"]], 2)[2], 6)
    1.0
    """
    if len(docs) < 2:
        raise ValueError("Self-BLEU needs at least two documents")
    stats = {n: _clipped(docs, n) for n in range(1, max_n + 1)}
    lengths = [len(t) for t in docs]
    closest = _closest_other_length(lengths)
    hyps = list(range(len(docs)))
    if sample is not None and sample < len(docs):
        hyps = sorted(random.Random(seed).sample(hyps, sample))
    result = {}
    for n in range(1, max_n + 1):
        weights = (1 / n,) * n
        total = 0.0
        for i in hyps:
            total += _bleu([stats[k][i] for k in range(1, n + 1)], weights, lengths[i], closest[i])
        result[n] = total / len(hyps)
    return result


def _bleu(p: list[tuple[int, int]], weights: tuple[float, ...], hyp_len: int, ref_len: int) -> float:
    """NLTK corpus_bleu for one hypothesis with SmoothingFunction().method1 (epsilon 0.1)."""
    if p[0][0] == 0:
        return 0.0
    if hyp_len > ref_len:
        bp = 1.0
    elif hyp_len == 0:
        bp = 0.0
    else:
        bp = math.exp(1 - ref_len / hyp_len)
    logs = (w * math.log((num + 0.1) / den if num == 0 else num / den) for w, (num, den) in zip(weights, p))
    return bp * math.exp(math.fsum(logs))


def distinct_n(docs: Sequence[Tokens], n: int) -> float:
    """Distinct n-grams over all n-grams, pooled over documents (lower-cased).

    >>> distinct_n([["a", "b", "a", "b"]], 1)
    0.5
    """
    seen: set[tuple[str, ...]] = set()
    total = 0
    for toks in docs:
        low = [t.lower() for t in toks]
        grams = _ngrams(low, n)
        total += sum(grams.values())
        seen.update(grams)
    return len(seen) / total if total else 0.0


def _unit(emb: Any) -> Any:
    import numpy as np

    emb = np.asarray(emb, dtype=np.float64)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return emb / np.where(norms == 0, 1, norms)


def remote_clique(emb: Any) -> float:
    """Mean over i of the mean cosine distance to every j ≠ i (Cox et al. 2021).

    Exact in O(N·d): Σ_{j≠i} cos(i, j) = e_i · Σ_j e_j − |e_i|².
    """
    e = _unit(emb)
    n = len(e)
    if n < 2:
        raise ValueError("Remote Clique needs at least two texts")
    row = e @ e.sum(axis=0) - (e * e).sum(axis=1)
    return float((1 - row / (n - 1)).mean())


def _blocks(n: int, size: int = 1024) -> list[tuple[int, int]]:
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def chamfer(emb: Any) -> float:
    """Mean over i of the smallest cosine distance to any j ≠ i (diagonal excluded)."""
    import numpy as np

    e = _unit(emb)
    if len(e) < 2:
        raise ValueError("Chamfer distance needs at least two texts")
    best = np.empty(len(e))
    for s, t in _blocks(len(e)):
        sims = e[s:t] @ e.T
        sims[np.arange(t - s), np.arange(s, t)] = -np.inf
        best[s:t] = sims.max(axis=1)
    return float((1 - best).mean())


def label_similarity(emb: Any, labels: Sequence[str]) -> tuple[list[str], list[list[float]]]:
    """sim(i, j) = mean cosine over all pairs (a ∈ i, b ∈ j), self-pairs included when i = j;
    exact as the dot product of the two labels' mean unit vectors."""
    import numpy as np

    e = _unit(emb)
    names = sorted(set(labels))
    lab = np.asarray(labels)
    means = np.stack([e[lab == n].mean(axis=0) for n in names])
    m = means @ means.T
    return names, [[round(float(x), 6) for x in r] for r in m]


def top_k_similarity(real: Any, synthetic: Any, k: int = 5) -> float:
    """Mean over real texts of the mean of their k highest cosine similarities to synthetic texts."""
    import numpy as np

    r, s = _unit(real), _unit(synthetic)
    k = min(k, len(s))
    out = np.empty(len(r))
    for a, b in _blocks(len(r)):
        sims = r[a:b] @ s.T
        out[a:b] = np.sort(np.partition(sims, -k, axis=1)[:, -k:], axis=1).mean(axis=1)
    return float(out.mean())


def entropy_bits(counts: Counter[Any]) -> float:
    """−Σ p log₂ p over non-zero counts.

    >>> entropy_bits(Counter({"a": 1, "b": 1}))
    1.0
    """
    total = sum(counts.values())
    return -math.fsum((c / total) * math.log2(c / total) for c in counts.values() if c) if total else 0.0


def entity_entropy(entities: Sequence[Sequence[tuple[str, str]]]) -> dict[str, Any]:
    """Entity entropy from (entity text, entity type) per document: per type H_T over entity
    strings of that type, and pooled over all (string, type) pairs."""
    by_type: dict[str, Counter[str]] = {}
    pooled: Counter[tuple[str, str]] = Counter()
    for doc in entities:
        for text, kind in doc:
            by_type.setdefault(kind, Counter())[text] += 1
            pooled[(text, kind)] += 1
    return {
        "pooled": round(entropy_bits(pooled), 6),
        "per_type": {k: round(entropy_bits(v), 6) for k, v in sorted(by_type.items())},
        "entities": sum(pooled.values()), "unique": len(pooled),
    }


def length_stats(lengths: Sequence[int]) -> dict[str, float]:
    """Mean, sample std, min, 10th/50th/90th percentile (linear interpolation) and max.

    >>> length_stats([1, 2, 3, 4])["p50"]
    2.5
    """
    xs = sorted(lengths)
    n = len(xs)
    if not n:
        raise ValueError("length statistics need at least one text")

    def q(p: float) -> float:
        pos = p * (n - 1)
        lo = math.floor(pos)
        return xs[lo] + (xs[min(lo + 1, n - 1)] - xs[lo]) * (pos - lo)

    mean = math.fsum(xs) / n
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "min": float(xs[0]), "p10": q(0.1), "p50": q(0.5), "p90": q(0.9),
            "max": float(xs[-1])}


def wasserstein_1d(a: Sequence[float], b: Sequence[float]) -> float:
    """The 1-D Wasserstein (earth mover's) distance between two empirical distributions: the
    integral of |F_a − F_b| over the line, exact from the merged sorted values.

    >>> wasserstein_1d([0, 1], [1, 2])
    1.0
    """
    if not a or not b:
        raise ValueError("the Wasserstein distance needs two non-empty samples")
    xa, xb = sorted(a), sorted(b)
    merged = sorted(set(xa) | set(xb))
    total, ia, ib = 0.0, 0, 0
    for left, right in zip(merged, merged[1:]):
        while ia < len(xa) and xa[ia] <= left:
            ia += 1
        while ib < len(xb) and xb[ib] <= left:
            ib += 1
        total += abs(ia / len(xa) - ib / len(xb)) * (right - left)
    return total
