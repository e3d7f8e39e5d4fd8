"""Hugging Face datasets (compiler/formats/hf.py); the `datasets` library's side is runtime/io/hf.py.
An export writes a folder of shards and a card (runtime/steps/outputs.py with `hf_export`), not
one file, so this codec has no `encode`."""

from __future__ import annotations

from synthc.compiler.source import Span
from synthc.runtime.io.formats.base import Codec, Records

__all__ = ["Hf"]


class Hf(Codec):
    name = "hf"
    folder = True
    own_paths = True  # `hf:OWNER/NAME` is no path; a folder's absence is its own E503

    def read(self, path: str, origin: Span) -> Records:
        from synthc.runtime.io.hf import read_hf

        return read_hf(path, None, None, origin)
