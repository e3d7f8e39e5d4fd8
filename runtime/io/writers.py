"""Files written atomically (temp file in the same directory, fsync, os.replace): a reader sees
the old file or the new one, never half of one. The one home of atomic writing; an export *set*
(several files committed as a unit) builds on it in runtime/io/outputs.py."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from synthc.compiler.filters import card_reasons

__all__ = ["write_atomic", "write_temp", "clean_stale_temps", "TEMP_PREFIX", "encode_rows",
           "MANIFEST_SCHEMA_VERSION", "dataset_card"]

MANIFEST_SCHEMA_VERSION = 2
TEMP_PREFIX = ".synthc-"  # temp names are `.synthc-<pid>-XXXX.tmp`: a later run can tell a dead writer's


def _mode_for(path: str) -> int:
    """The mode a plain `open(path, "w")` would give: the existing file's, else 0666 minus the umask.
    (mkstemp creates 0600, and that mode would survive the rename.)"""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def write_temp(path: str, data: bytes) -> str:
    """Write `data` to a fresh temp file beside `path` (fsynced, final mode); returns its name."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), _mode_for(path))
            os.fsync(fh.fileno())
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def write_atomic(path: str, data: bytes) -> None:
    tmp = write_temp(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def clean_stale_temps(directory: str, keep: frozenset[str] = frozenset()) -> list[str]:
    """Remove `.synthc-<pid>-*.tmp` files whose writer is no longer running (a killed build's);
    returns the removed paths. Files named in `keep` (a pending commit's) stay."""
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(TEMP_PREFIX) and name.endswith(".tmp")):
            continue
        path = os.path.join(directory, name)
        if path in keep or _alive(name):
            continue
        if _unlink(path):
            removed.append(path)
    return removed


def _alive(name: str) -> bool:
    pid = name[len(TEMP_PREFIX):].split("-", 1)[0]
    if not pid.isdigit():
        return False  # an older synthc's temp name carries no pid: nobody owns it now
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unlink(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except OSError:
        return False


def encode_rows(rows: list[dict[str, Any]], fmt: str) -> bytes:
    """Bytes of a dataset file in format `fmt`, by its codec (runtime/io/formats/); deterministic
    for the same rows (sorted keys, fixed separators)."""
    from synthc.runtime.io import formats

    return formats.get(fmt).encode(rows)


def dataset_card(name: str, spec: str, files: list[str], counts: dict[str, dict[str, int]],
                 model: dict[str, Any], hashes: dict[str, str], description: str,
                 header: dict[str, Any] | None = None, kind: str = "classification",
                 dropped: dict[str, dict[str, dict[str, int]]] | None = None,
                 cost: dict[str, dict[str, int]] | None = None,
                 judged: dict[str, dict[str, dict[str, int]]] | None = None) -> str:
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
    if dropped and any(dropped.values()):
        lines += ["", "## Rows dropped per variant and label", "",
                  "Reasons: the parse step's (`empty`, `refusal`, `echo.template`, `token_cap`, …) and each filter's "
                  f"({', '.join(f'`{r}`' for r in card_reasons())}).", "",
                  "| variant | label | kept | dropped | reasons |", "|---|---|---|---|---|"]
        for variant, by_label in sorted(dropped.items()):
            for label, reasons in sorted(by_label.items()):
                why = ", ".join(f"{k} {n}" for k, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
                kept = counts.get(variant, {}).get(label, 0)
                lines.append(f"| {variant} | {label or '-'} | {kept} | {sum(reasons.values())} | {why} |")
    if cost:
        lines += _cost(cost)
    if judged:
        lines += ["", "## Judge scores per variant and label", "",
                  "Rows the `judge` filter scored (before it dropped any), by score.", "",
                  "| variant | label | scores |", "|---|---|---|"]
        for variant, by_label in sorted(judged.items()):
            for label, scores in sorted(by_label.items()):
                lines.append(f"| {variant} | {label or '-'} | {', '.join(f'{s}: {n}' for s, n in scores.items())} |")
    lines += ["", "## Model", "", f"- {model.get('name')}: `{model.get('path')}`",
              f"- sha256 `{model.get('sha256')}`", "", "## File hashes (sha256)", ""]
    lines += [f"- `{k}`: `{v}`" for k, v in sorted(hashes.items())]
    lines += ["", "Every row carries `provenance`: variant, seed example, retrieved document and rank,",
              "attributes, prompt hash, model, sampling parameters and filter scores.", "",
              "## Licence", "", "`other`: generated text; the model's licence and the licences of the data the",
              "recipe read (seed examples, retrieval corpora) apply.", ""]
    return "\n".join(lines)


def _cost(cost: dict[str, dict[str, int]]) -> list[str]:
    """The card's generation cost: deterministic quantities only (the card is promised byte-stable
    across rebuilds and resumes), so tokens and requests, never time."""
    lines = ["", "## Generation cost", "",
             "Every request the rows came from (kept, dropped and cut rows alike), with the tokens the model "
             "counted; a generation served from the cache counts once, whichever build made it. Time is a "
             "fact of each run, not of the data: `synthc plan --tokens` shows what builds spent.", "",
             "| variant | requests | prompt tokens | generated tokens |", "|---|---|---|---|"]
    for variant, u in sorted(cost.items()):
        lines.append(f"| {variant} | {u.get('requests', 0)} | {u.get('prompt_tokens', 0)} | "
                     f"{u.get('generated_tokens', 0)} |")
    if len(cost) > 1:
        total = {k: sum(u.get(k, 0) for u in cost.values()) for k in ("requests", "prompt_tokens", "generated_tokens")}
        lines.append(f"| all | {total['requests']} | {total['prompt_tokens']} | {total['generated_tokens']} |")
    return lines
