"""The dense encoder (OpenVINO, ONNX Runtime or torch), the project's embedding store, and batched retrieval:
a text is embedded once across indexes, the backends agree, and the similarity bands decide the
same whatever the batching."""

from __future__ import annotations

import json
import os
import pathlib

import pytest

from synthc.compiler import ir
from synthc.compiler.source import NO_SPAN
from synthc.runtime.retrieval.embeddings import Embeddings, EmbeddingStore
from synthc.runtime.eval.embed import installed, minilm_available
from synthc.runtime.retrieval.corpora import Doc, build_index

from conftest import DATA

needs_minilm = pytest.mark.skipif(not minilm_available(), reason="all-MiniLM-L6-v2 (synthc[dense]) is not installed")
needs_onnx = pytest.mark.skipif(not (minilm_available() and installed("onnxruntime") and installed("onnx")),
                                reason="onnxruntime/onnx (synthc[dense]) are not installed")
needs_openvino = pytest.mark.skipif(not (minilm_available() and installed("openvino") and installed("onnx")),
                                    reason="openvino/onnx (synthc[dense]) are not installed")


def _texts(name: str, n: int) -> list[str]:
    with open(os.path.join(DATA, "ag_news", name), encoding="utf-8") as fh:
        return [json.loads(line)["text"] for _, line in zip(range(n), fh)]


def _retriever(similarity: str = "dense") -> ir.Retriever:
    return ir.Retriever(name="r", corpus="c", method="bm25", k1=1.5, b=0.75, embedder="all-MiniLM-L6-v2",
                        seed=0, origin=NO_SPAN, similarity=similarity)


class Counting:
    """A real encoder that counts the texts it is given."""

    def __init__(self, inner: object) -> None:
        self.inner, self.identity, self.texts = inner, inner.identity, 0  # type: ignore[attr-defined]

    def encode(self, texts: list[str]) -> object:
        self.texts += len(texts)
        return self.inner.encode(texts)  # type: ignore[attr-defined]


class Letters:
    """A deterministic stand-in encoder (letter counts, normalized) for the store's own logic."""

    identity = "letters/test"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode(self, texts: list[str]) -> object:
        import numpy as np

        self.calls.append(len(texts))
        v = np.array([[t.lower().count(c) + 1 for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts], np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_store_embeds_each_text_once_and_keys_by_encoder(tmp_path: str) -> None:
    import numpy as np

    path = os.path.join(str(tmp_path), ".synthc", "embeddings.sqlite")
    enc = Letters()
    first = Embeddings(enc, EmbeddingStore(path)).vectors(["alpha", "beta", "alpha"])
    assert enc.calls == [2]  # a repeated text within a call is embedded once
    again = Embeddings(enc, EmbeddingStore(path))  # a new process: only the store remembers
    assert np.array_equal(again.vectors(["beta", "alpha"]), first[[1, 0]]) and enc.calls == [2]
    assert again.vectors(["gamma", "alpha"]).shape == (2, 26) and enc.calls == [2, 1]
    other = Letters()
    other.identity = "letters/other-backend"
    Embeddings(other, EmbeddingStore(path)).vectors(["alpha"])
    assert other.calls == [1]  # another encoder identity never reads these vectors


def test_a_store_of_the_former_layout_is_moved_over_and_read(tmp_path: str) -> None:
    import sqlite3

    import numpy as np

    from synthc.runtime.retrieval.embeddings import text_key

    path = os.path.join(str(tmp_path), ".synthc", "embeddings.sqlite")
    os.makedirs(os.path.dirname(path))
    enc = Letters()
    vecs = enc.encode(["alpha", "beta"])
    db = sqlite3.connect(path)  # the layout before the rowid key, as a user's project holds it
    db.execute("CREATE TABLE vectors (encoder TEXT NOT NULL, text_sha256 BLOB NOT NULL, vec BLOB NOT NULL, "
               "PRIMARY KEY (encoder, text_sha256)) WITHOUT ROWID")
    db.executemany("INSERT INTO vectors VALUES (?, ?, ?)",
                   [(enc.identity, text_key(t), v.tobytes()) for t, v in zip(["alpha", "beta"], vecs)])
    db.commit()
    db.close()
    got = Embeddings(enc, EmbeddingStore(path)).vectors(["beta", "alpha", "gamma"])
    assert enc.calls == [2, 1]  # only the new text was embedded
    assert np.array_equal(got[:2], vecs[[1, 0]])
    tables = {n for (n,) in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"embeddings"}


def test_a_colliding_row_key_is_a_miss_not_a_wrong_vector(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from synthc.runtime.retrieval import embeddings

    path = os.path.join(str(tmp_path), ".synthc", "embeddings.sqlite")
    monkeypatch.setattr(embeddings, "row_key", lambda encoder, sha: 7)  # every text on one key
    enc = Letters()
    Embeddings(enc, EmbeddingStore(path)).vectors(["alpha"])
    assert Embeddings(enc, EmbeddingStore(path)).vectors(["alpha"]).shape == (1, 26) and enc.calls == [1]
    again = Embeddings(enc, EmbeddingStore(path))
    beta = again.vectors(["beta"])  # the key holds alpha's row: beta is embedded, never given alpha's vector
    assert enc.calls == [1, 1] and (beta == Letters().encode(["beta"])).all()
    other = Letters()
    other.identity = "letters/other-backend"
    Embeddings(other, EmbeddingStore(path)).vectors(["alpha"])
    assert other.calls == [1]


@needs_minilm
def test_second_index_reuses_the_stored_document_embeddings(tmp_path: str) -> None:
    from synthc.runtime.retrieval import corpora as retrieval

    docs = [Doc(f"d{i}", t, {}) for i, t in enumerate(_texts("corpus.jsonl", 120))]
    queries = _texts("train.jsonl", 6)
    path = os.path.join(str(tmp_path), ".synthc", "embeddings.sqlite")
    counting = Counting(retrieval._dense_model(_retriever(), NO_SPAN))
    original = retrieval._dense_model
    retrieval._dense_model = lambda r, origin: counting  # type: ignore[assignment]
    try:
        one = build_index(_retriever(), docs, None, EmbeddingStore(path)).search_many(queries, 10)
        after_first = counting.texts
        two = build_index(_retriever(), docs, None, EmbeddingStore(path)).search_many(queries, 10)
    finally:
        retrieval._dense_model = original  # type: ignore[assignment]
    assert 10 <= after_first <= 6 + 60
    assert counting.texts == after_first  # the second build embedded nothing
    assert [[(h.doc.id, h.similarity) for h in hits] for hits in one] == \
        [[(h.doc.id, h.similarity) for h in hits] for hits in two]


@needs_minilm
def test_bands_decide_alike_in_any_batching(tmp_path: str) -> None:
    docs = [Doc(f"d{i}", t, {}) for i, t in enumerate(_texts("corpus.jsonl", 150))]
    queries = _texts("train.jsonl", 8)
    fresh = lambda: build_index(_retriever(), docs, None, EmbeddingStore(None))  # noqa: E731
    batched = fresh().search_many(queries, 12)
    reverse = fresh().search_many(queries[::-1], 12)[::-1]
    single = [fresh().search(q, 12) for q in queries]
    key = lambda found: [[(h.doc.id, h.rank, h.score, h.similarity) for h in hits] for hits in found]  # noqa: E731
    assert key(batched) == key(reverse) == key(single)
    assert any(0.4 <= h.similarity <= 0.9 for hits in batched for h in hits)  # real bands, not all-equal


@needs_onnx
def test_onnx_agrees_with_torch_on_real_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from synthc.runtime.eval import embed

    texts = _texts("corpus.jsonl", 40) + _texts("train.jsonl", 20)
    monkeypatch.setenv("SYNTHC_EMBED_BACKEND", "onnx")
    onnx = embed.dense_encoder()
    assert onnx.identity.endswith("/onnx-fp32")
    a = onnx.encode(texts)
    monkeypatch.setenv("SYNTHC_EMBED_BACKEND", "torch")
    torch = embed.dense_encoder()
    assert torch.identity.endswith("/torch-fp32") and torch.identity != onnx.identity
    b = torch.encode(texts)
    cos = (a * b).sum(axis=1)
    assert a.shape == b.shape == (60, 384) and cos.min() >= 0.99, cos.min()
    # a text's vector does not depend on the other texts of its batch (the bands' determinism)
    assert np.array_equal(onnx.encode(texts[::-1][:25]), a[::-1][:25])


@needs_openvino
@needs_onnx
@pytest.mark.parametrize("precision, closeness", [("bf16", 0.999), ("int8", 0.99)])
def test_openvino_agrees_with_onnx_and_a_vector_never_depends_on_its_batch(
        monkeypatch: pytest.MonkeyPatch, precision: str, closeness: float) -> None:
    """OpenVINO's kernels change with the shape, so texts go in batches of one token length: a
    text's vector is then bit for bit the same alone, in any batch and in any order — in the float
    precision and in int8 (runtime/eval/int8.py: quantized once, then loaded from the cache)."""
    import numpy as np

    from synthc.runtime.eval import embed

    if precision == "int8" and not installed("nncf"):
        pytest.skip("nncf (synthc[dense]) is not installed")
    texts = _texts("corpus.jsonl", 150)
    monkeypatch.setenv("SYNTHC_EMBED_PRECISION", precision)
    monkeypatch.setenv("SYNTHC_EMBED_BACKEND", "openvino")
    ov = embed.dense_encoder()
    assert ov.identity.split("/")[-1] in ({"openvino-bf16", "openvino-fp32"} if precision == "bf16" else
                                          {"openvino-int8-bf16", "openvino-int8-fp32"})
    a = ov.encode(texts)
    monkeypatch.setenv("SYNTHC_EMBED_BACKEND", "onnx")
    onnx = embed.dense_encoder()
    assert onnx.identity != ov.identity  # stored vectors never mix
    cos = (a * onnx.encode(texts)).sum(axis=1)
    assert a.shape == (150, 384) and cos.min() >= closeness, cos.min()
    monkeypatch.setenv("SYNTHC_EMBED_BACKEND", "openvino")
    ov = embed.dense_encoder()
    lengths = [len(e.ids) for e in ov.tokenizer.encode_batch(texts)]
    assert max(lengths.count(n) for n in set(lengths)) >= 3  # some batches really hold several texts
    assert np.array_equal(ov.encode(texts[::-1]), a[::-1])
    assert np.array_equal(ov.encode(texts[7:60:3]), a[7:60:3])
    assert all(np.array_equal(ov.encode([texts[i]])[0], a[i]) for i in range(0, 150, 10))


@needs_openvino
@needs_onnx
def test_the_int8_model_is_made_once_and_is_the_same_bytes_every_time(tmp_path: pathlib.Path) -> None:
    """The quantized model is a pure function of the ONNX export and the calibration text: made
    again in another place it is byte-identical, so a build's vectors never depend on which run
    quantized; asked for again, it is loaded from the cache, not remade."""
    import filecmp
    import subprocess
    import sys

    from synthc.runtime.eval import embed, int8

    if not installed("nncf"):
        pytest.skip("nncf (synthc[dense]) is not installed")
    onnx_path = embed._onnx_export(embed._minilm_dir())
    cached = int8.int8_model(onnx_path)
    made = os.path.getmtime(cached)
    assert int8.int8_model(onnx_path) == cached and os.path.getmtime(cached) == made
    again = str(tmp_path / "model.xml")
    subprocess.run([sys.executable, "-m", "synthc.runtime.eval.int8", onnx_path, again], check=True, capture_output=True)
    for name in ("model.xml", "model.bin"):
        assert filecmp.cmp(os.path.join(os.path.dirname(cached), name), str(tmp_path / name), shallow=False), name


@needs_openvino
def test_the_encoder_identity_does_not_import_openvino() -> None:
    """Index keys carry the identity (backend and precision): computing it must stay cheap, so on
    Linux the precision comes from the CPU's flags, not from loading OpenVINO (0.7 s)."""
    import subprocess
    import sys

    code = ("import sys; from synthc.runtime.eval import embed; i = embed.dense_identity(); "
            "assert i.split('/')[-1] in ('openvino-bf16', 'openvino-fp32', 'openvino-int8-bf16', 'openvino-int8-fp32'), i; "
            "assert 'openvino' not in sys.modules and 'nncf' not in sys.modules")
    env = {k: v for k, v in os.environ.items() if k not in ("SYNTHC_EMBED_BACKEND", "SYNTHC_EMBED_PRECISION")}
    if not os.path.exists("/proc/cpuinfo"):
        pytest.skip("the CPU's flags are read from /proc/cpuinfo")
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
