"""`hf`: a Hugging Face dataset — a `save_to_disk` folder, a folder of Parquet/JSONL shards with a
dataset card, or `hf:OWNER/NAME` in the local HF cache; an export writes such a folder (Parquet
shards, one configuration per variant, and a card). Found by its files when a path is a folder."""

from __future__ import annotations

import os

from synthc.compiler.formats.base import DataFormat

__all__ = ["Hf", "HF_PREFIX", "HF_MARKERS", "is_hf_folder"]

HF_PREFIX = "hf:"  # `path = "hf:OWNER/NAME"`: a dataset in the local Hugging Face cache
# Files that make a folder a Hugging Face dataset: save_to_disk's, or a dataset card beside shards.
HF_MARKERS = ("dataset_dict.json", "state.json", "dataset_info.json")


def is_hf_folder(path: str) -> bool:
    """save_to_disk output, or a folder with a README.md dataset card beside Parquet/JSONL shards."""
    if not os.path.isdir(path):
        return False
    names = set(os.listdir(path))
    if names & set(HF_MARKERS):
        return True
    if "README.md" not in names:
        return False
    for base, _, files in os.walk(path):
        if any(f.endswith((".parquet", ".jsonl", ".json", ".arrow", ".csv")) for f in files):
            return True
    return False


class Hf(DataFormat):
    name = "hf"
    doc = "a Hugging Face dataset folder (save_to_disk, or shards + card) or `hf:OWNER/NAME` from the HF cache"
    writes = True
    export_rank = 3
