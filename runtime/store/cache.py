"""The per-row, content-addressed generation cache: SQLite under `.synthc/` beside the spec.

Key (runtime/store/keys.py: generation_key) = sha256 of the rendered request (messages, constraint, sampling parameters, the row's seed;
all of them functions of the node's IR and the row key), the model fingerprint (file sha256) and
CACHE_VERSION. The engine commits each group of requests (runtime/engine/groups.py) in one transaction
as soon as it finishes, so a `kill -9` loses at most the groups in flight, never part of one, and
a rerun picks up where the last one stopped. The same transaction records the group's spend in
the usage ledger (runtime/store/ledger.py), so what builds spent is exact across kills and resumes.

Excluded from identity, on purpose (editing these must not regenerate anything):
- the spec's comments and formatting, names of exports and evaluations, output paths;
- filter, parse and export settings (they act on cached completions);
- the `threads` setting (llama.cpp gives the same tokens for any thread count; runtime.md §5).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from typing import Any

from synthc.runtime.store import ledger
from synthc.runtime.store.keys import CACHE_VERSION
from synthc.runtime.backends.base import Completion

__all__ = ["Cache", "CACHE_VERSION", "CacheError", "open_cache"]


class CacheError(Exception):
    """The cache cannot be used: damaged (delete it: it holds nothing a rebuild cannot recreate
    but time) or not writable (a full disk, a read-only folder)."""

    def __init__(self, path: str, reason: str, help: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason, self.help = path, reason, help


def _error(path: str, exc: sqlite3.Error) -> CacheError:
    text = str(exc)
    if "full" in text or "disk I/O" in text:
        return CacheError(path, text, "free disk space and rerun: every generation committed so far is kept")
    if "readonly" in text or "unable to open" in text:
        return CacheError(path, text, f"make {os.path.dirname(path)} writable")
    return CacheError(path, text, f"the cache is damaged: delete the folder {os.path.dirname(path)} "
                      "(it only saves time) and rerun")


def open_cache(directory: str) -> Cache:
    path = os.path.join(directory, "cache.sqlite")
    try:
        os.makedirs(directory, exist_ok=True)
        return Cache(directory)
    except sqlite3.Error as exc:
        raise _error(path, exc) from None
    except OSError as exc:
        raise CacheError(path, exc.strerror or str(exc), f"make {directory} a writable folder") from None


class Cache:
    """All access goes through the methods below; each turns an SQLite failure into CacheError."""

    def __init__(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, "cache.sqlite")
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA quick_check").fetchall()  # a damaged file fails here, not mid-build
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, node TEXT, row TEXT, "
            "completion TEXT, created REAL)"
        )
        self.db.execute("CREATE TABLE IF NOT EXISTS artifacts (key TEXT PRIMARY KEY, value TEXT)")
        for statement in ledger.SCHEMA:  # the usage ledger (runtime/store/ledger.py)
            self.db.execute(statement)
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Completion | None:
        try:
            row = self.db.execute("SELECT completion FROM generations WHERE key = ?", (key,)).fetchone()
            if row is None:
                self.misses += 1
                return None
            data = json.loads(row[0])
            comp = Completion(**data)
        except sqlite3.Error as exc:
            raise _error(self.path, exc) from None
        except (ValueError, TypeError) as exc:
            raise CacheError(self.path, f"an entry is not a completion ({exc})",
                             f"the cache is damaged: delete the folder {os.path.dirname(self.path)} and rerun") from None
        self.hits += 1
        return comp

    def put(self, key: str, node: str, row_key: str, completion: Completion) -> None:
        data = {"text": completion.text, "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
                "evaluated_tokens": completion.evaluated_tokens, "finish": completion.finish,
                "extra": completion.extra, "logprob": completion.logprob}
        try:
            self.db.execute("INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?, ?)",
                            (key, node, row_key, json.dumps(data, ensure_ascii=False), time.time()))
        except sqlite3.Error as exc:
            raise _error(self.path, exc) from None

    def put_group(self, node: str, entries: list[tuple[str, str, Completion]],
                  spend: ledger.Spend | None = None) -> None:
        """Commit a group's (key, row key, completion) entries atomically: all of them or none,
        with the group's `spend` in the same transaction (so the ledger never counts a group
        whose completions a kill -9 lost, nor misses one the cache kept)."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for key, row_key, completion in entries:
                    self.put(key, node, row_key, completion)
                if spend is not None:
                    ledger.record(self.db, spend)
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")  # a full disk often shows here, when the WAL grows
        except sqlite3.Error as exc:
            raise _error(self.path, exc) from None

    def artifact(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM artifacts WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_artifact(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO artifacts VALUES (?, ?)", (key, json.dumps(value)))

    def begin_build(self, build: str, recipe: str) -> None:
        try:
            ledger.begin(self.db, build, recipe)
        except sqlite3.Error as exc:
            raise _error(self.path, exc) from None

    def finish_build(self, build: str, seconds: float, kept: dict[str, int]) -> None:
        try:
            ledger.finish(self.db, build, seconds, kept)
        except sqlite3.Error as exc:
            raise _error(self.path, exc) from None

    def close(self) -> None:
        self.db.close()
