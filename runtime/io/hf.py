"""Hugging Face datasets, both ways (the `datasets` library is the `hf` extra, imported only here).

Reading: a `save_to_disk` folder, a folder of Parquet/JSONL shards with a dataset card (what
`push_to_hub` and our own exports write), or `hf:OWNER/NAME` — a dataset already in the local HF
cache, loaded with the hub switched off. A split and a configuration are chosen by the source's
`split` and `config`; ClassLabel columns come back as their names (recipes speak label names).

Writing: an export with `format = "hf"` is a folder of Parquet shards, one configuration per
variant, with a dataset card whose YAML header has `configs`, `dataset_info` (features: the label
a ClassLabel with the label set's names, provenance a struct), licence and task categories, so
`datasets.load_dataset(folder)` reads it with the right features and the folder can be pushed to a
hub as is.
"""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

from synthc.compiler.formats import HF_PREFIX
from synthc.compiler.source import Span
from synthc.runtime.errors import fail

__all__ = ["read_hf", "hf_splits", "hf_sha256", "hf_export", "SHARD"]

SHARD = "data/{config}-00000-of-00001.parquet"  # the hub's shard naming (one shard per config)


def _datasets(origin: Span) -> Any:
    """The `datasets` module with the hub switched off (no network at run time)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    try:
        import datasets
    except ImportError:
        raise fail("E510", "Hugging Face datasets need the `datasets` package", origin, "declared here",
                   help="pip install 'synthc[hf]'") from None
    datasets.config.HF_HUB_OFFLINE = True  # in case it was imported before the variables were set
    datasets.utils.logging.disable_progress_bar()
    datasets.utils.logging.set_verbosity_error()
    return datasets


def _open(path: str, config: str | None, origin: Span) -> Any:
    """A Dataset or DatasetDict for a folder or an `hf:` id."""
    ds = _datasets(origin)
    try:
        if path.startswith(HF_PREFIX):
            return ds.load_dataset(path[len(HF_PREFIX):], config)
        if not os.path.isdir(path):
            raise fail("E503", f"Hugging Face dataset folder not found: {path}", origin, "declared here",
                       help="paths are relative to the spec file; `hf:OWNER/NAME` names a cached hub dataset")
        if {"dataset_dict.json", "state.json"} & set(os.listdir(path)):
            return ds.load_from_disk(path)
        return ds.load_dataset(path, config)
    except (FileNotFoundError, ConnectionError, ValueError) as err:
        where = "in the local Hugging Face cache (synthc never downloads)" if path.startswith(HF_PREFIX) else path
        raise fail("E503", f"cannot load the Hugging Face dataset {path}: {err}", origin, "declared here",
                   help=f"the dataset must be {where}" if path.startswith(HF_PREFIX) else
                   "a save_to_disk folder, or Parquet/JSONL shards with a README.md dataset card") from None


def _split(obj: Any, split: str | None, path: str, origin: Span) -> Any:
    if not hasattr(obj, "keys"):  # a single Dataset
        return obj
    names = list(obj.keys())
    want = split or ("train" if "train" in names else names[0] if len(names) == 1 else None)
    if want not in names:
        raise fail("E508", f"{path} has no split `{split}`" if split else f"{path} has splits {', '.join(names)}",
                   origin, "declared here", help=f'choose one with `split = "…"`: {", ".join(names)}')
    return obj[want]


def read_hf(path: str, split: str | None, config: str | None, origin: Span) -> list[dict[str, Any]]:
    """All records of one split, ClassLabel values as their names."""
    table = _split(_open(path, config, origin), split, path, origin)
    labels = {name: f for name, f in table.features.items() if type(f).__name__ == "ClassLabel"}
    rows: list[dict[str, Any]] = table.to_list()
    for r in rows:
        for name, feature in labels.items():
            if r.get(name) is not None and r[name] >= 0:
                r[name] = feature.int2str(r[name])
    return rows


def hf_splits(path: str, config: str | None, origin: Span) -> list[str]:
    """The dataset's split names (one unnamed split reads as `train`)."""
    obj = _open(path, config, origin)
    return list(obj.keys()) if hasattr(obj, "keys") else ["train"]


def hf_sha256(path: str, config: str | None = None) -> str:
    """Content hash of a dataset folder (every file but hidden ones and `datasets`' lock files), or
    of a cached hub dataset's Arrow files, for the recipe's lock."""
    files: list[tuple[str, str]] = []
    if path.startswith(HF_PREFIX):
        obj = _open(path, config, Span(-1, 0, 0))
        cached = obj.cache_files if not hasattr(obj, "keys") else [f for s in obj.values() for f in s.cache_files]
        files = sorted((os.path.basename(f["filename"]), f["filename"]) for f in cached)
    else:
        for base, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for n in names:
                if not n.startswith(".") and not n.endswith(".lock"):
                    full = os.path.join(base, n)
                    files.append((os.path.relpath(full, path).replace(os.sep, "/"), full))
    h = hashlib.sha256()
    for rel, full in sorted(files):
        with open(full, "rb") as fh:
            h.update(rel.encode() + b"\0" + hashlib.sha256(fh.read()).hexdigest().encode())
    return h.hexdigest()


def hf_export(configs: dict[str, list[dict[str, Any]]], label_names: tuple[str, ...] | None,
              origin: Span) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Parquet shard bytes per relative path, and the card metadata (configs, dataset_info) for the
    YAML header. Rows are the export's records; `label` becomes a ClassLabel over `label_names`."""
    ds = _datasets(origin)
    shards: dict[str, bytes] = {}
    info: list[dict[str, Any]] = []
    cfgs: list[dict[str, Any]] = []
    for k, (config, rows) in enumerate(configs.items()):
        rows = [_no_empty_structs(r) for r in rows]
        table = ds.Dataset.from_list(rows) if rows else ds.Dataset.from_dict({"text": []})
        features = table.features.copy()
        if label_names and "label" in features:
            features["label"] = ds.ClassLabel(names=list(label_names))
            index = {n: i for i, n in enumerate(label_names)}
            table = ds.Dataset.from_list([dict(r, label=index[r["label"]]) for r in rows], features=features)
        buf = io.BytesIO()
        table.to_parquet(buf)
        rel = SHARD.format(config=config)
        shards[rel] = buf.getvalue()
        cfgs.append({"config_name": config, "data_files": [{"split": "train", "path": rel}], **({"default": True} if k == 0 else {})})
        info.append({"config_name": config, "features": features._to_yaml_list(),
                     "splits": [{"name": "train", "num_bytes": len(buf.getvalue()), "num_examples": len(rows)}],
                     "download_size": len(buf.getvalue()), "dataset_size": len(buf.getvalue())})
    return shards, {"configs": cfgs, "dataset_info": info}


def _no_empty_structs(value: Any) -> Any:
    """Parquet cannot store a struct without fields: an empty mapping (no `vary` attributes, say)
    is stored as null."""
    if isinstance(value, dict):
        return {k: _no_empty_structs(v) for k, v in value.items()} or None
    if isinstance(value, list):
        return [_no_empty_structs(v) for v in value]
    return value
