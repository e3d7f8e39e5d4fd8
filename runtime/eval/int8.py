"""MiniLM in int8 for the CPU: the exported ONNX model (embed._onnx_export) quantized by NNCF —
static post-training quantization, int8 weights and activations with scales calibrated on fixed
text — and cached as an OpenVINO IR in the user's cache dir, beside the ONNX export.

Why: in bfloat16 MiniLM already runs near this 2-core CPU's bf16 peak (5,000 AG News texts, 235k
tokens, in 16 s: ~0.34 TFLOP/s), so only less arithmetic per token makes it faster, and an int8
dot product (AVX512-VNNI, AMX) does twice the work of a bf16 one per instruction.

Two projections per layer stay in the float precision: the attention's output and the
feed-forward block's output. Their inputs (the attention-weighted values, the GELU's output) carry
the outliers that int8 clips. Measured on the repository's 5,000 AG News texts (2026-12-07, idle):
everything quantized, 10.4 s and cosine with the bf16 vectors down to 0.984; with those two left
out, 12.7 s, cosine min 0.9938, mean 0.9988 (bf16: 16.0 s).

Calibration text is `calibration.txt`: paragraphs of this project's own documentation (ours to
ship), frozen in the package so that the quantized model never changes with the docs. Calibrated
on 300 AG News train texts instead, the AG News vectors came out no closer (min 0.9934, mean
0.9988): in-domain text buys nothing here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from typing import Any

__all__ = ["INT8_VERSION", "CALIBRATION", "FLOAT_PROJECTIONS", "int8_model"]

INT8_VERSION = 1  # bump when the quantization below changes (a new folder name, never a stale model)
CALIBRATION = os.path.join(os.path.dirname(os.path.abspath(__file__)), "calibration.txt")
FLOAT_PROJECTIONS = r".*/output/dense/MatMul"  # attention output and FFN output, in the ONNX export's names


def int8_model(onnx_path: str) -> str:
    """The path of the int8 OpenVINO model (.xml) quantized from `onnx_path`, made on first use
    (~20 s) into a temporary folder that is then renamed into place, so an interrupted run never
    leaves a model that loads. Its folder name carries what it depends on: the ONNX file, the
    calibration text, NNCF's version and INT8_VERSION.

    NNCF runs in a child process: it draws progress bars on the terminal, which a build's own
    display owns, and its imports stay out of the build's process."""
    if importlib.util.find_spec("nncf") is None:  # SYNTHC_EMBED_PRECISION=int8 without it
        raise ImportError("the int8 encoder needs nncf: pip install 'synthc[dense]'")
    with open(CALIBRATION, "rb") as fh:
        calibration = fh.read()
    stamp = hashlib.sha256(f"{INT8_VERSION}:{os.path.basename(onnx_path)}:{version('nncf')}:".encode()
                           + calibration).hexdigest()[:16]
    parent = os.path.join(os.path.dirname(os.path.dirname(onnx_path)), "openvino")
    folder = os.path.join(parent, f"all-MiniLM-L6-v2-int8-{stamp}")
    xml = os.path.join(folder, "model.xml")
    if os.path.exists(xml):
        return xml
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=".int8-")
    try:
        done = subprocess.run([sys.executable, "-m", __name__, onnx_path, os.path.join(tmp, "model.xml")],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"quantizing MiniLM to int8 failed (SYNTHC_EMBED_PRECISION=bf16 skips it):\n"
                               f"{done.stderr[-2000:]}")
        try:
            os.replace(tmp, folder)
        except OSError:  # another process renamed its copy first: theirs is the same model
            if not os.path.exists(xml):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return xml


def _quantize(onnx_path: str, out: str) -> None:
    import logging

    import numpy as np
    import nncf
    import openvino

    from synthc.runtime.eval.embed import _feeds, _tokenizer

    nncf.set_log_level(logging.ERROR)
    tokenizer = _tokenizer()
    with open(CALIBRATION, encoding="utf-8") as fh:
        paragraphs = fh.read().splitlines()

    def feeds(text: str) -> dict[str, Any]:  # one paragraph per sample, at its own length (no padding)
        ids = np.asarray([tokenizer.encode(text).ids], np.int64)
        return _feeds(ids, np.ones_like(ids))

    model = openvino.Core().read_model(onnx_path)
    quantized = nncf.quantize(model, nncf.Dataset(paragraphs, feeds), model_type=nncf.ModelType.TRANSFORMER,
                              subset_size=len(paragraphs),
                              ignored_scope=nncf.IgnoredScope(patterns=[FLOAT_PROJECTIONS]))
    openvino.save_model(quantized, out, compress_to_fp16=False)


if __name__ == "__main__":
    _quantize(sys.argv[1], sys.argv[2])
