"""The datasets an evaluation reads: exported rows, files given on the command line, their names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

__all__ = ["Dataset", "dataset_from_records", "read_dataset", "name_paths", "distribution"]


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    texts: tuple[str, ...]
    labels: tuple[str | None, ...]
    queries: tuple[str, ...] = ()  # QA-pair datasets: the query of each positive text
    filter_oracle: str = ""  # what the rows' label_oracle filter was trained on, when one filtered them

    @property
    def labelled(self) -> bool:
        return bool(self.labels) and all(lab is not None for lab in self.labels)


def dataset_from_records(name: str, records: Sequence[dict[str, Any]], text_field: str = "text",
                         label_field: str = "label") -> Dataset:
    """A dataset from exported rows: classification rows use `text`/`label`; QA pairs use
    `positive` as the text and keep `query`."""
    pairs = bool(records) and text_field not in records[0] and "positive" in records[0]
    texts = tuple(str(r.get("positive" if pairs else text_field, "")) for r in records)
    labels = tuple(None if r.get(label_field) is None else str(r[label_field]) for r in records)
    queries = tuple(str(r.get("query", "")) for r in records) if pairs else ()
    return Dataset(name, texts, labels, queries)


def name_paths(items: Sequence[str]) -> list[tuple[str, str]]:
    """`NAME=PATH` or `PATH` (named after the file's stem) → (name, path); E601 when two share a name."""
    from synthc.compiler.source import NO_SPAN
    from synthc.runtime.errors import fail

    named = []
    for item in items:
        name, _, path = item.rpartition("=") if "=" in item and not os.path.exists(item) else ("", "", item)
        named.append((name or os.path.splitext(os.path.basename(path))[0], path))
    seen: dict[str, str] = {}
    for name, path in named:
        if name in seen:
            raise fail("E601", f"two datasets are both named `{name}` ({seen[name]}, {path})", NO_SPAN,
                       help="name them NAME=PATH")
        seen[name] = path
    return named


def read_dataset(path: str, name: str, text_field: str = "text", label_field: str = "label",
                 need_labels: bool = False) -> Dataset:
    """A JSONL / JSON / CSV / Parquet file as a Dataset, its format decided as a recipe's source's is
    (compiler/formats.detect); E503/E504/E601 diagnostics on bad input."""
    from synthc.compiler.formats import detect
    from synthc.compiler.source import NO_SPAN
    from synthc.runtime.io.data import read_table
    from synthc.runtime.errors import fail

    if not os.path.isfile(path):
        raise fail("E503", f"dataset not found: {path}", NO_SPAN, help="paths are relative to the current directory")
    records = read_table(path, detect(path), NO_SPAN)  # the recipe's rule: a source of this name reads the same
    if not records:
        raise fail("E601", f"{path}: the dataset has no rows", NO_SPAN, help="evaluate a built dataset")
    d = dataset_from_records(name, records, text_field, label_field)
    for n, r in enumerate(records, 1):
        if text_field not in r and not d.queries:
            raise fail("E601", f"{path}:{n}: record has no text field `{text_field}` (fields: {', '.join(sorted(r))})",
                       NO_SPAN, help="name the text column with --text-field")
        if need_labels and not d.queries and r.get(label_field) is None:
            raise fail("E601", f"{path}:{n}: record has no label field `{label_field}` (fields: {', '.join(sorted(r))})",
                       NO_SPAN, help="name the label column with --label-field, or choose metrics that need no labels")
    return d


def distribution(labels: Sequence[str | None]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for lab in labels:
        counts[str(lab)] = counts.get(str(lab), 0) + 1
    return dict(sorted(counts.items()))
