"""The per-row, content-addressed generation cache: SQLite under `.synthc/` beside the spec.

Key = sha256 of the rendered request (messages, constraint, sampling parameters, the row's seed;
all of them functions of the node's IR and the row key), the model fingerprint (file sha256) and
CACHE_VERSION. The engine commits each group of requests (runtime/engine.py) in one transaction
as soon as it finishes, so a `kill -9` loses at most the groups in flight, never part of one, and
a rerun picks up where the last one stopped.

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

from synthc.runtime.backends.base import Completion

__all__ = ["Cache", "CACHE_VERSION"]

CACHE_VERSION = "1"


class Cache:
    def __init__(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, "cache.sqlite")
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, node TEXT, row TEXT, "
            "completion TEXT, created REAL)"
        )
        self.db.execute("CREATE TABLE IF NOT EXISTS artifacts (key TEXT PRIMARY KEY, value TEXT)")
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Completion | None:
        row = self.db.execute("SELECT completion FROM generations WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        data = json.loads(row[0])
        return Completion(**data)

    def put(self, key: str, node: str, row_key: str, completion: Completion) -> None:
        data = {"text": completion.text, "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
                "evaluated_tokens": completion.evaluated_tokens, "finish": completion.finish,
                "extra": completion.extra, "logprob": completion.logprob}
        self.db.execute("INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?, ?)",
                        (key, node, row_key, json.dumps(data, ensure_ascii=False), time.time()))

    def put_group(self, node: str, entries: list[tuple[str, str, Completion]]) -> None:
        """Commit a group's (key, row key, completion) entries atomically: all of them or none."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for key, row_key, completion in entries:
                self.put(key, node, row_key, completion)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def artifact(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM artifacts WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_artifact(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO artifacts VALUES (?, ?)", (key, json.dumps(value)))

    def close(self) -> None:
        self.db.close()
