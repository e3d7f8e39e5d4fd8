"""`synthc plan SPEC --tokens` cold and warm (issue 20's goal: warm ≤ 5 s on the AG News recipe).

The recipe is copied into a scratch project (its `../data/` paths pointing at the repository's
data/, which the project's synth.toml allows), so the checkout's `.synthc/` is never read or
written. The first run is cold (no memos: the corpus is tokenized, the index built, the documents
retrieved and, with dense similarity bands, embedded); the next `--runs` are warm (every data step
answered from its memo). Each run is a fresh `python -m synthc` process, as a user runs it; the
time `synthc plan` itself reports for its look-up (`looked up in …`) is printed beside it, the rest
being start-up, imports and compiling. Printed: every run, the warm median, warm ÷ cold, and the
goal. Quote `uptime`'s load beside the figures (the machine is shared).

    python bench/preview.py [--spec specs/synthesizrr_ag_news.synth] [--runs 3] [--backend llama]
    python bench/preview.py --smoke      # the quickstart on the fake backend, one warm run
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "data")
GOAL_S = 5.0


def scratch(spec: str, tmp: str) -> str:
    """The recipe in a scratch project under `tmp`, reading the repository's data/."""
    with open(spec, encoding="utf-8") as fh:
        text = fh.read().replace('"../data/', '"' + os.path.join(DATA, ""))
    os.makedirs(os.path.join(tmp, "specs"))
    path = os.path.join(tmp, "specs", os.path.basename(spec))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    with open(os.path.join(tmp, "synth.toml"), "w", encoding="utf-8") as fh:
        fh.write(f'[paths]\nallow = ["{DATA}"]\n')
    return path


def run(spec: str, backend: str) -> tuple[float, float | None, str]:
    """(wall seconds, the look-up seconds plan reports, the summary line) of one `plan --tokens`."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "synthc", "plan", spec, "--tokens", "--backend", backend],
                          cwd=os.path.dirname(spec), capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"synthc plan failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    summary = proc.stdout.strip().splitlines()[-1]
    m = re.search(r"looked up in ([\d.]+)s", summary)
    return wall, float(m[1]) if m else None, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", default=os.path.join(ROOT, "specs", "synthesizrr_ag_news.synth"))
    ap.add_argument("--runs", type=int, default=3, help="warm runs after the cold one")
    ap.add_argument("--backend", default="llama", choices=("llama", "fake"))
    ap.add_argument("--smoke", action="store_true", help="the quickstart on the fake backend, one warm run")
    args = ap.parse_args()
    if args.smoke:
        args.spec, args.runs, args.backend = os.path.join(ROOT, "examples", "quickstart.synth"), 1, "fake"
    with tempfile.TemporaryDirectory(prefix="synthc-preview-") as tmp:
        spec = scratch(args.spec, tmp)
        print(f"synthc plan {os.path.relpath(args.spec, ROOT)} --tokens --backend {args.backend} "
              f"(scratch copy; load {os.getloadavg()[0]:.2f})")
        cold, cold_lookup, summary = run(spec, args.backend)
        print(f"  cold     {cold:6.2f} s  (look-up {cold_lookup} s)")
        warm: list[float] = []
        for k in range(args.runs):
            wall, lookup, summary = run(spec, args.backend)
            warm.append(wall)
            print(f"  warm {k + 1}   {wall:6.2f} s  (look-up {lookup} s)")
        median = statistics.median(warm)
        print(f"  {summary}")
        print(f"warm median {median:.2f} s; warm / cold {median / cold:.3f}; "
              f"goal warm ≤ {GOAL_S:.0f} s: {'met' if median <= GOAL_S else 'not met'} "
              f"(load {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
