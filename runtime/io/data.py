"""Reading sources and corpora (each format through its codec, runtime/io/formats/) and seeded sampling."""

from __future__ import annotations

import hashlib
import os
import random
import re
from dataclasses import dataclass
from typing import Any

from synthc.compiler import ir
from synthc.compiler.formats import HF_PREFIX
from synthc.compiler.source import Span
from synthc.runtime.errors import fail
from synthc.runtime.io import formats
from synthc.runtime.io.formats.text import text_files

__all__ = ["Record", "read_table", "read_records", "load_source", "sample_rows", "file_sha256", "source_sha256", "location"]


@dataclass(frozen=True, slots=True)
class Record:
    """One record: the mapped standard columns plus the declared extra fields."""

    id: str
    text: str
    label: str | None
    fields: dict[str, Any]

    def scope(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "text": self.text, **self.fields}
        if self.label is not None:
            out["label"] = self.label
        return out


def file_sha256(path: str) -> str:
    """Content hash of a file, or of a text folder (its documents' relative paths and bytes)."""
    h = hashlib.sha256()
    if os.path.isdir(path):
        for rel in text_files(path):
            h.update(rel.encode() + b"\0" + file_sha256(os.path.join(path, rel)).encode())
        return h.hexdigest()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def location(root: str, path: str) -> str:
    """Where a data path points: under the spec's directory, except `hf:` ids (the HF cache)."""
    return path if path.startswith(HF_PREFIX) else os.path.join(root, path)


def source_sha256(src: ir.Source | ir.Corpus, root: str) -> str:
    """The content hash the recipe's lock records for a source or corpus."""
    path = location(root, src.path)
    if src.format == "hf":
        from synthc.runtime.io.hf import hf_sha256

        return hf_sha256(path, src.config)
    return file_sha256(path)


def read_records(src: ir.Source | ir.Corpus, root: str) -> list[dict[str, Any]]:
    """A source's or corpus's raw records with its `split` applied (an HF split, else a column)."""
    path = location(root, src.path)
    if src.format == "hf":
        from synthc.runtime.io.hf import read_hf

        return read_hf(path, src.split, src.config, src.origin)
    records = read_table(path, src.format, src.origin)
    return records if src.split is None else [r for r in records if str(r.get("split")) == src.split]


def read_table(path: str, fmt: str, origin: Span) -> list[dict[str, Any]]:
    """All records of a data file (or folder) in format `fmt`, read by its codec
    (runtime/io/formats/); E503 if missing or unreadable, E504 on malformed content."""
    codec = formats.get(fmt)
    if codec.own_paths:
        return codec.read(path, origin)
    path = os.path.normpath(path)  # messages name it as the user can paste it: `../data/x`, not `./../data/x`
    if not os.path.exists(path):
        raise fail("E503", f"data file not found: {path}", origin, "declared here",
                   help="paths are relative to the spec file")
    if codec.folder:
        return codec.read(path, origin)
    if os.path.isdir(path):
        raise fail("E503", f"{path} is a folder, not a {fmt} file", origin, "declared here",
                   help='name the file inside it, or use `format = "text"` for a folder of .txt/.md files')
    try:
        return codec.read(path, origin)
    except UnicodeDecodeError as err:
        line = _line_of(path, err)
        raise fail("E504", f"{path}:{line}: not UTF-8 text (byte 0x{err.object[err.start]:02x})", origin,
                   "declared here", help="re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None
    except OSError as err:
        raise fail("E503", f"cannot read {path}: {err.strerror}", origin, "declared here",
                   help="check the file's permissions") from None


def _line_of(path: str, err: UnicodeDecodeError) -> int:
    """1-based line of the first undecodable byte (the decoder reports an offset in its chunk)."""
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as full:
        return data.count(b"\n", 0, full.start) + 1
    return 1


def _rows(records: list[dict[str, Any]], path: str, id_col: str, text_col: str, label_col: str | None,
          fields: tuple[str, ...], split: str | None, origin: Span) -> list[Record]:
    out = []
    seen: dict[str, int] = {}  # id -> the record that has it: provenance names a row by its id
    for n, rec in enumerate(records, 1):
        if split is not None and str(rec.get("split")) != split:
            continue
        for col in (text_col, *( [label_col] if label_col else []), *fields):
            if col not in rec:
                raise fail("E508", f"{path}: record {n} has no column `{col}`", origin, "mapped here",
                           help=_columns_help(rec))
        text = rec[text_col]
        if not isinstance(text, (str, int, float)) or isinstance(text, bool):
            what = "null" if text is None else f"a {type(text).__name__}"
            raise fail("E508", f"{path}: record {n}: `{text_col}` is {what}, not text", origin, "mapped here",
                       help="fix or drop the record; a prompt would otherwise read the word `None`")
        rid = str(rec.get(id_col, n))
        if rid in seen:
            raise fail("E527", f"{path}: records {seen[rid]} and {n} both have the id `{rid[:80]}`", origin,
                       "declared here", help=f"give every row a unique `{id_col}` (a row's provenance names its "
                       "id), or map another column with `id = \"…\"`")
        seen[rid] = n
        label = None if not label_col or rec[label_col] is None else str(rec[label_col])
        out.append(Record(rid, str(text), label, {f: rec[f] for f in fields}))
    return out


_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ .-]{0,63}")


def _columns_help(record: dict[str, Any]) -> str:
    """The record's column names, for a help line. Only names that look like column names are shown,
    at most 12: a file that is not a table (a CSV "header" that is the first line of /etc/passwd) must
    not have its contents echoed into a terminal or a CI log."""
    names = sorted(str(k) for k in record)
    shown = [n for n in names if _COLUMN_NAME.fullmatch(n)][:12]
    rest = len(names) - len(shown)
    if not shown:
        return f"the record has {len(names)} column(s), none named like a column; is this a data file?"
    return f"columns in that record: {', '.join(shown)}" + (f" and {rest} more" if rest else "")


def load_source(src: ir.Source | ir.Corpus, root: str) -> list[Record]:
    label = src.label if isinstance(src, ir.Source) else None
    return _rows(read_records(src, root), location(root, src.path), src.id, src.text, label, src.fields,
                 None, src.origin)


def sample_rows(rows: list[Record], sample: ir.Sample, labels: tuple[str, ...] | None, origin: Span) -> list[Record]:
    """Seeded sampling: `balanced` takes per_label rows of every label (or total split evenly);
    `stratified` keeps the source's label proportions (largest remainder). Output is in a stable
    order: by label (label-set order, else sorted), then by the seeded draw."""
    rng = random.Random(sample.seed)
    by_label: dict[str, list[Record]] = {}
    for r in rows:
        by_label.setdefault(r.label or "", []).append(r)
    order = [lb for lb in (labels or sorted(by_label)) if lb in by_label] or sorted(by_label)
    quotas = _quotas(sample, order, by_label)
    out: list[Record] = []
    for lb in order:
        pool = by_label[lb]
        want = quotas[lb]
        if want > len(pool):
            raise fail("E509", f"sample wants {want} rows of label `{lb}`, the source has {len(pool)}", origin,
                       "sample declared here", help="lower the sample size")
        out += rng.sample(pool, want)
    return out


def _quotas(sample: ir.Sample, order: list[str], by_label: dict[str, list[Record]]) -> dict[str, int]:
    if sample.per_label is not None:
        return {lb: sample.per_label for lb in order}
    total = sample.total or 0
    if sample.strategy == "balanced":
        base, extra = divmod(total, len(order))
        return {lb: base + (i < extra) for i, lb in enumerate(order)}
    size = sum(len(by_label[lb]) for lb in order)
    exact = {lb: total * len(by_label[lb]) / size for lb in order}
    quotas = {lb: int(v) for lb, v in exact.items()}
    for lb in sorted(order, key=lambda x: (-(exact[x] - quotas[x]), order.index(x)))[: total - sum(quotas.values())]:
        quotas[lb] += 1
    return quotas
