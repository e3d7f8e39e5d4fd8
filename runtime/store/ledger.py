"""The usage ledger: what builds spent, per node and model, across every build of a recipe.

It lives in the cache database (`.synthc/cache.sqlite`), not in a file beside it: each group's
spend (requests, prompt tokens sent and evaluated, tokens generated, when it was sent and
committed) is written by `Cache.put_group` in the SAME transaction as the group's completions.
A `kill -9` therefore loses a group's completions and its spend together or neither, and a rerun
adds only what it generates: rows served from the cache add nothing. Summed over builds the ledger
is exact — a build killed and resumed spends what one clean build spends (unless `--force`
regenerates, which is a real second spend and is counted as one).

`builds` has one row per build: when it started, and, once it finished, its wall time and the
rows each generate node kept (a killed build has no finish, but its groups' spend is there).

Node wall time is per build the span from its first group's sending to its last group's commit
(groups run concurrently, so their own durations overlap); `spent` sums it over builds.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass

__all__ = ["Spend", "NodeSpend", "SCHEMA", "new_build", "recipe_key", "record", "begin", "finish", "spent"]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS usage (build TEXT, recipe TEXT, node TEXT, model TEXT, fingerprint TEXT, "
    "requests INTEGER, prompt INTEGER, evaluated INTEGER, generated INTEGER, started REAL, finished REAL)",
    "CREATE TABLE IF NOT EXISTS builds (build TEXT PRIMARY KEY, recipe TEXT, started REAL, seconds REAL, "
    "kept TEXT)",
)


@dataclass(frozen=True, slots=True)
class Spend:
    """One committed group's usage: what was sent for it and what came back, as the backend
    counted it (a served model: the `usage` the server reports)."""

    build: str
    recipe: str  # the recipe's path relative to the project root (recipes in one folder share a cache)
    node: str  # generate:<task>.<variant>
    model: str
    fingerprint: str
    requests: int
    prompt: int  # prompt tokens sent
    evaluated: int  # of those, evaluated (the rest came from a KV cache)
    generated: int
    started: float  # the group was handed to the backend (epoch seconds)
    finished: float  # its completions were committed


@dataclass(frozen=True, slots=True)
class NodeSpend:
    """A node's spend summed over every build of the recipe that generated for it."""

    node: str
    models: tuple[str, ...]
    builds: int  # builds that generated at least one group of this node
    requests: int
    prompt: int
    evaluated: int
    generated: int
    seconds: float  # wall time, per build first send to last commit, summed
    kept: int | None  # rows the last finished build kept (None: no build finished with this node)


def new_build() -> str:
    return uuid.uuid4().hex


def recipe_key(recipe: str, root: str) -> str:
    """A recipe's name in the ledger: its path under the project root, so moving the project keeps
    its history and two recipes sharing a folder's cache keep theirs apart."""
    return os.path.relpath(os.path.realpath(recipe), os.path.realpath(root)).replace(os.sep, "/")


def record(db: sqlite3.Connection, s: Spend) -> None:
    """Insert one group's spend; the caller holds the group's transaction (Cache.put_group)."""
    db.execute("INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (s.build, s.recipe, s.node, s.model, s.fingerprint, s.requests, s.prompt, s.evaluated,
                s.generated, s.started, s.finished))


def begin(db: sqlite3.Connection, build: str, recipe: str) -> None:
    db.execute("INSERT OR REPLACE INTO builds VALUES (?, ?, ?, NULL, NULL)", (build, recipe, time.time()))


def finish(db: sqlite3.Connection, build: str, seconds: float, kept: dict[str, int]) -> None:
    """A finished build's wall time and the rows each generate node kept."""
    db.execute("UPDATE builds SET seconds = ?, kept = ? WHERE build = ?",
               (round(seconds, 3), json.dumps(kept, sort_keys=True), build))


def spent(path: str, recipe: str) -> dict[str, NodeSpend]:
    """Generate node -> what every build of `recipe` spent on it, from the cache at `path` (empty
    when there is no cache or no ledger yet). Read-only: never creates the file."""
    if not os.path.exists(path):
        return {}
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return {}
    try:
        rows = db.execute(
            "SELECT node, group_concat(DISTINCT model), count(DISTINCT build), sum(requests), sum(prompt), "
            "sum(evaluated), sum(generated) FROM usage WHERE recipe = ? GROUP BY node", (recipe,)).fetchall()
        walls = dict(db.execute(
            "SELECT node, sum(span) FROM (SELECT node, max(finished) - min(started) AS span FROM usage "
            "WHERE recipe = ? GROUP BY node, build) GROUP BY node", (recipe,)).fetchall())
        last = db.execute("SELECT kept FROM builds WHERE recipe = ? AND kept IS NOT NULL "
                          "ORDER BY started DESC LIMIT 1", (recipe,)).fetchone()
    except sqlite3.Error:  # a cache from before the ledger: no usage table, nothing spent on record
        return {}
    finally:
        db.close()
    kept: dict[str, int] = json.loads(last[0]) if last else {}
    return {node: NodeSpend(node, tuple(sorted(str(models).split(","))), builds, requests, prompt, evaluated,
                            generated, round(float(walls.get(node) or 0.0), 3), kept.get(node))
            for node, models, builds, requests, prompt, evaluated, generated in rows}
