"""Dataset files written atomically (temp file in the same directory, fsync, os.replace):
a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from typing import Any

__all__ = ["write_atomic", "encode_rows", "MANIFEST_SCHEMA_VERSION", "dataset_card"]

MANIFEST_SCHEMA_VERSION = 1


def write_atomic(path: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".synthc-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def encode_rows(rows: list[dict[str, Any]], fmt: str) -> bytes:
    """Bytes of a dataset file; deterministic for the same rows (sorted keys, fixed separators)."""
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode("utf-8")
    flat = [{k: (json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, (dict, list)) else v)
             for k, v in r.items()} for r in rows]
    columns = sorted({k for r in flat for k in r})
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(flat)
        return buf.getvalue().encode("utf-8")
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(flat) if flat else pa.table({c: [] for c in columns})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def dataset_card(name: str, spec: str, files: list[str], counts: dict[str, dict[str, int]],
                 model: dict[str, Any], hashes: dict[str, str], description: str,
                 header: dict[str, Any] | None = None, kind: str = "classification") -> str:
    """A Hugging Face dataset card: YAML front matter (licence, task categories, configs with their
    data files; `header` replaces it for a Hugging Face dataset folder, adding dataset_info with the
    features), then prose."""
    if header is not None:
        import yaml  # a dependency of `datasets`, which writing a Hugging Face folder needs anyway

        lines = ["---", yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=100).rstrip("\n")]
    else:
        categories = ["text-classification"] if kind == "classification" else ["sentence-similarity", "text-retrieval"]
        lines = ["---", "license: other", "task_categories:", *(f"- {c}" for c in categories), "configs:"]
        for f in files:
            stem = os.path.splitext(os.path.basename(f))[0]
            lines += [f"- config_name: {stem}", "  data_files:", "  - split: train", f"    path: {os.path.basename(f)}"]
        lines += ["tags:", "- synthetic", "- synthc"]
    lines += ["---", "", f"# {name}", "", description, "",
              f"Built by synthc from `{spec}`.", "", "## Rows per variant and label", "",
              "| variant | label | rows |", "|---|---|---|"]
    for variant, by_label in sorted(counts.items()):
        for label, n in sorted(by_label.items()):
            lines.append(f"| {variant} | {label or '-'} | {n} |")
    lines += ["", "## Model", "", f"- {model.get('name')}: `{model.get('path')}`",
              f"- sha256 `{model.get('sha256')}`", "", "## File hashes (sha256)", ""]
    lines += [f"- `{k}`: `{v}`" for k, v in sorted(hashes.items())]
    lines += ["", "Every row carries `provenance`: variant, seed example, retrieved document and rank,",
              "attributes, prompt hash, model, sampling parameters and filter scores.", "",
              "## Licence", "", "`other`: generated text; the model's licence and the licences of the data the",
              "recipe read (seed examples, retrieval corpora) apply.", ""]
    return "\n".join(lines)
