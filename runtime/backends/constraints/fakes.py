"""The fake backend's answers under each constraint (runtime/backends/fake.py): deterministic in
the `random.Random` they are given, written from the prompt's own words."""

from __future__ import annotations

import random
import re
from typing import Any

__all__ = ["sentence", "regex_sample", "from_schema"]


def sentence(rng: random.Random, vocab: list[str], n: int) -> str:
    words = [rng.choice(vocab) for _ in range(n)]
    return (" ".join(words)).capitalize() + "."


def regex_sample(pattern: str, rng: random.Random) -> str:
    # Enough for the simple patterns recipes use (digits, letters, short alternations).
    for candidate in [str(rng.randrange(10)), str(rng.randrange(100)), "a", "A", "yes", "no", "x1"]:
        if re.fullmatch(pattern, candidate):
            return candidate
    m = re.fullmatch(r"\(?([^()|]+(\|[^()|]+)+)\)?", pattern)
    if m:
        return rng.choice(m.group(1).split("|"))
    raise ValueError(f"the fake backend cannot sample regex {pattern!r}")


def from_schema(schema: dict[str, Any], rng: random.Random, vocab: list[str]) -> Any:
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        return {k: from_schema(v, rng, vocab) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        n = rng.randrange(1, max(2, schema.get("maxItems", 3) + 1))
        return [from_schema(schema["items"], rng, vocab) for _ in range(n)]
    if kind == "integer":
        return rng.randint(schema.get("minimum", 0), schema.get("maximum", 100))
    if kind == "number":
        return round(rng.uniform(schema.get("minimum", 0.0), schema.get("maximum", 1.0)), 3)
    if kind == "boolean":
        return rng.random() < 0.5
    if "pattern" in schema:
        return regex_sample(schema["pattern"], rng)
    limit = schema.get("maxLength", 200)
    return sentence(rng, vocab, 4 + rng.randrange(12))[:limit]
