"""A longer fuzz run than CI's property test (not collected by pytest: no `test_` prefix).

    .venv/bin/python tests/fuzz_long.py --inputs 10000 --seed 1

Mutates every recipe in the repository (and, with --grammar N, adds N texts generated from the
grammar), compiles each in a watchdog process, and prints the crashes (exceptions, E999, hangs) per
10,000 inputs with one example of each crash class. Exit status 1 if any crash was found.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fuzzing import Outcome, Watchdog, corpus, mutate  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=int, default=10_000, help="mutated inputs (default 10,000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bound", type=float, default=10.0, help="seconds per input before it counts as a hang")
    ap.add_argument("--save", metavar="DIR", help="write each crashing input to DIR")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    recipes = corpus()
    counts: collections.Counter[str] = collections.Counter()
    examples: dict[str, tuple[str, Outcome]] = {}
    start = time.monotonic()
    with Watchdog(args.bound) as dog:
        for i in range(args.inputs):
            path, text = rng.choice(recipes)
            mutated = mutate(text, rng)
            outcome = dog.run(mutated, path)
            counts[outcome.kind] += 1
            if outcome.kind in ("exception", "e999", "hang"):
                key = outcome.kind + ": " + outcome.detail.strip().splitlines()[-1][:160]
                examples.setdefault(key, (mutated, outcome))
                if args.save:
                    os.makedirs(args.save, exist_ok=True)
                    with open(os.path.join(args.save, f"crash-{i}.synth"), "w", encoding="utf-8") as fh:
                        fh.write(mutated)
            if (i + 1) % 1000 == 0:
                print(f"{i + 1} inputs, {dict(counts)}", file=sys.stderr)
    elapsed = time.monotonic() - start
    crashes = counts["exception"] + counts["e999"] + counts["hang"]
    print(f"inputs: {args.inputs} from {len(recipes)} recipes, seed {args.seed}, {elapsed:.0f} s "
          f"({args.inputs / elapsed:.0f} inputs/s)")
    print(f"outcomes: {dict(sorted(counts.items()))}")
    print(f"crashes per 10,000 inputs: {crashes * 10_000 / max(1, args.inputs):.1f}")
    for key, (text, outcome) in sorted(examples.items()):
        print(f"\n== {key}\n{outcome.detail.strip()[-1500:]}\ninput ({len(text)} chars): {text[:300]!r}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
