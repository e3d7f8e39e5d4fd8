"""The project's embedding store: dense vectors by (encoder identity, text hash), in
`.synthc/embeddings.sqlite`, so that a text is embedded once — across builds, `synthc plan`,
indexes of different corpora and retrievers — and every later use reads the vector it got then
(the bands' decisions cannot drift with batching or with an interrupted run).

The key is the encoder's `identity` (model and backend, runtime/eval/embed.py) and the SHA-256 of
the text; a switch of backend or model misses and embeds afresh, it never mixes vectors. Writes
are one transaction per `put`, so a killed process leaves the store as of its last commit.

Rows live in a rowid table whose integer key is the first 8 bytes of SHA-256(encoder, text hash):
a lookup is one probe of SQLite's rowid b-tree, 4-5x cheaper than the former two-column key over
rows of 1.5 kB (the warm similarity bands read 50 vectors per query). Every row also carries the
encoder and the text hash, and a read checks both, so a colliding key is a miss, never a wrong
vector. A store in the former layout (table `vectors`) is moved over on first open.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from typing import Any, Sequence

__all__ = ["EmbeddingStore", "Embeddings"]

_SCHEMA = ("CREATE TABLE IF NOT EXISTS embeddings (key INTEGER PRIMARY KEY, encoder TEXT NOT NULL, "
           "text_sha256 BLOB NOT NULL, vec BLOB NOT NULL)")
_FORMER = "vectors"  # the layout before the rowid key: (encoder, text_sha256) WITHOUT ROWID


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def row_key(encoder: str, text_sha256: bytes) -> int:
    """The row's integer key: the first 8 bytes of SHA-256(encoder, NUL, text hash), signed."""
    return int.from_bytes(hashlib.sha256(encoder.encode() + b"\0" + bytes(text_sha256)).digest()[:8], "little",
                          signed=True)


class EmbeddingStore:
    """Vectors by (encoder, text hash) in one SQLite file; `path=None` keeps them in memory only."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.db: sqlite3.Connection | None = None
        if path:
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                self.db = sqlite3.connect(path, timeout=30)
                self.db.execute("PRAGMA journal_mode=WAL")
                # reads through the OS page cache instead of copies into SQLite's own (half the CPU per lookup)
                self.db.execute("PRAGMA mmap_size=1073741824")
                self.db.execute(_SCHEMA)
                self.db.commit()
                self._move_former()
            except (OSError, sqlite3.Error):  # a read-only or damaged project: embed, do not store
                self.db = None

    def _move_former(self) -> None:
        """Copy a store of the former layout into the rowid table, in one transaction (a second
        process opening the store meanwhile waits, then finds nothing left to move)."""
        assert self.db is not None
        if not self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [_FORMER]).fetchone():
            return
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [_FORMER]).fetchone():
                self.db.create_function("synthc_row_key", 2, row_key, deterministic=True)
                self.db.execute(f"INSERT OR IGNORE INTO embeddings SELECT synthc_row_key(encoder, text_sha256), "
                                f"encoder, text_sha256, vec FROM {_FORMER}")
                self.db.execute(f"DROP TABLE {_FORMER}")

    def get(self, encoder: str, keys: Sequence[bytes]) -> dict[bytes, Any]:
        import numpy as np

        if self.db is None or not keys:
            return {}
        out: dict[bytes, Any] = {}
        rows_keys = [row_key(encoder, k) for k in keys]
        for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
            chunk = rows_keys[start: start + 500]
            marks = ",".join("?" * len(chunk))
            try:
                rows = self.db.execute(f"SELECT encoder, text_sha256, vec FROM embeddings WHERE key IN ({marks})",
                                       chunk).fetchall()
            except sqlite3.Error:
                return out
            # a row whose encoder differs shares only the key's 64 bits: a miss, never its vector
            out.update((bytes(k), np.frombuffer(v, dtype=np.float32)) for e, k, v in rows if e == encoder)
        return {k: out[k] for k in keys if k in out}

    def put(self, encoder: str, items: Sequence[tuple[bytes, Any]]) -> None:
        if self.db is None or not items:
            return
        import numpy as np

        try:
            with self.db:
                self.db.executemany("INSERT OR IGNORE INTO embeddings VALUES (?, ?, ?, ?)",
                                    [(row_key(encoder, k), encoder, k, np.asarray(v, dtype=np.float32).tobytes())
                                     for k, v in items])
        except sqlite3.Error:  # full disk, locked too long: the vectors are still returned
            pass

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


class Embeddings:
    """An encoder in front of a store: `vectors(texts)` embeds only the texts the store lacks (one
    batched call), stores them, and returns every text's vector. `encoded` counts the texts sent
    to the encoder (what a memo hit saves)."""

    def __init__(self, encoder: Any, store: EmbeddingStore) -> None:
        self.encoder = encoder
        self.store = store
        self.encoded = 0
        self._mem: dict[bytes, Any] = {}

    @property
    def identity(self) -> str:
        return str(self.encoder.identity)

    def vectors(self, texts: Sequence[str]) -> Any:
        import numpy as np

        keys = [text_key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._mem))
        self._mem.update(self.store.get(self.identity, missing))
        todo = {k: t for k, t in zip(keys, texts) if k not in self._mem}
        if todo:
            vecs = self.encoder.encode(list(todo.values()))
            self.encoded += len(todo)
            fresh = list(zip(todo, (np.asarray(v, dtype=np.float32) for v in vecs)))
            self._mem.update(fresh)
            self.store.put(self.identity, fresh)
        if not texts:
            return np.zeros((0, 384), np.float32)
        return np.stack([self._mem[k] for k in keys])
