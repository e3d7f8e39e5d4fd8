"""The verdict line: a winner only where the evidence separates datasets, never from noise.

Retrieval data (Sy-SE-PQA) is judged on the retrieval table: fused BM25 + bi-encoder nDCG@10,
and a winner must be significantly better (ranx's paired t-test, p < 0.01) than every other
synthetic variant. Classification data is judged on the primary student's macro-F1 by the paired
comparisons of runtime/eval/stats.py. Diversity metrics (Self-BLEU, distinct-n, ...) describe the
data but never crown it: a variant can be most diverse because it is off-topic. Ties are not
wins; a dataset whose primary student is at chance, or that is too small to judge, is never
crowned, and pairs with a too-small dataset are not listed as separated; flagged datasets (student
at chance, too small) are named after the verdict.
"""

from __future__ import annotations

from typing import Any

__all__ = ["verdict"]

_FUSED = "BM25 + bi-encoder("


def verdict(m: dict[str, Any]) -> dict[str, Any]:
    """{"text", "winner" (a dataset name or None), "basis"}."""
    compared = [n for n, d in m["datasets"].items() if not d.get("reference")]
    if m.get("ir"):
        out = _retrieval(m["ir"], compared)
    elif m.get("students", {}).get("primary") and len(compared) > 1:
        out = _students(m, compared)
    elif len(compared) <= 1:
        out = {"text": "One dataset evaluated; nothing to compare.", "winner": None, "basis": None}
    else:
        out = {"text": "No verdict: no student or retrieval comparison ran, and diversity metrics alone do not "
                       "rank datasets.", "winner": None, "basis": None}
    flags = _flags(m, compared)
    return out | {"text": out["text"] + (f" Flags: {flags}." if flags else ""), "flags": flags or None}


def _students(m: dict[str, Any], compared: list[str]) -> dict[str, Any]:
    kind = m["students"]["primary"]
    mine = [c for c in m["comparisons"] if c["student"] == kind]
    scores = {n: m["datasets"][n].get("students", {}).get(kind, {}).get("synthetic", {}).get("macro_f1", {})
              for n in compared}
    ranked = sorted((n for n in compared if scores[n].get("mean") is not None),
                    key=lambda n: (-scores[n]["mean"], n))
    shown = ", ".join(f"`{n}` {scores[n]['mean']:.3f} ± {scores[n]['std']:.3f}" for n in ranked)
    basis = f"student macro-F1 ({kind}), paired over {len(m['seeds'])} seeds"
    for n in ranked:
        against = [c for c in mine if n in (c["a"], c["b"])]
        if against and len(against) == len(ranked) - 1 and all(c["verdict"] == n for c in against):
            lo = min(abs(c["mean_diff"]) for c in against)
            flags = m["datasets"][n].get("flags", {})
            unfit = ("its student is at chance" if kind in flags.get("at_chance", []) else
                     "it is too small to judge" if flags.get("too_small") else None)
            if unfit:
                # Ahead of the others, but its own student learns nothing beyond chance, or it has too
                # few rows to say: crowning it would name the least bad of unjudgeable datasets "best data".
                return {"text": f"No winner on {basis}: `{n}` is ahead of every other dataset beyond the seeds' "
                                f"spread (by at least {lo:.3f}), but {unfit}; {shown}.",
                        "winner": None, "basis": basis}
            return {"text": f"Best data: `{n}` — {basis}: better than every other dataset beyond the seeds' spread "
                            f"(by at least {lo:.3f}); {shown}.", "winner": n, "basis": basis}
    # A pair with a dataset too small to judge is not evidence either way: a student trained on a
    # handful of rows scores the same on every seed, so its zero spread "separates" anything.
    small = {n for n in compared if m["datasets"][n].get("flags", {}).get("too_small")}
    judged = [c for c in mine if c["verdict"] != "tie" and not {c["a"], c["b"]} & small]
    sep = [f"`{c['verdict']}` > `{c['b'] if c['verdict'] == c['a'] else c['a']}`" for c in judged]
    skipped = sum(1 for c in mine if c["verdict"] != "tie" and {c["a"], c["b"]} & small)
    return {"text": f"No single winner on {basis}: {shown}"
                    + (f"; separated pairs: {', '.join(sep)}" if sep else "; no pair is separated beyond the seeds' spread")
                    + (f" ({skipped} more with a dataset too small to judge, not counted)" if skipped else "")
                    + " (ties are not wins).", "winner": None, "basis": basis}


def _retrieval(ir: dict[str, Any], compared: list[str]) -> dict[str, Any]:
    runs = ir["runs"]
    fused = {n[len(_FUSED):-1]: r for n, r in runs.items() if n.startswith(_FUSED) and n[len(_FUSED):-1] in compared}
    basis = "fused BM25 + bi-encoder nDCG@10 on the test questions, paired t-test p < 0.01"
    if not fused:
        return {"text": "No verdict: no variant's bi-encoder was evaluated.", "winner": None, "basis": basis}
    ranked = sorted(fused, key=lambda n: (-fused[n]["metrics"]["nDCG@10"], n))
    shown = ", ".join(f"`{n}` {fused[n]['metrics']['nDCG@10']:.4f}" for n in ranked)
    top = ranked[0]
    beats = set(fused[top].get("significantly_better_than", {}).get("nDCG@10", []))
    others = {f"{_FUSED}{n})" for n in ranked[1:]}
    real = f"{_FUSED}real answers)"
    vs_real = ""
    if real in runs:
        vs_real = f"; real answers {runs[real]['metrics']['nDCG@10']:.4f}"
    if len(ranked) > 1 and others <= beats:
        return {"text": f"Best data: `{top}` — {basis}: significantly better than every other variant; {shown}{vs_real}.",
                "winner": top, "basis": basis}
    why = "no variant is significantly better than all others" if len(ranked) > 1 else "one variant"
    return {"text": f"No single winner on {basis}: {why}; {shown}{vs_real} (ties are not wins).",
            "winner": None, "basis": basis}


def _flags(m: dict[str, Any], compared: list[str]) -> str:
    out = []
    for n in compared:
        f = m["datasets"][n].get("flags", {})
        if f.get("at_chance"):
            out.append(f"`{n}` student at chance ({', '.join(f['at_chance'])})")
        if f.get("too_small"):
            below = f.get("labels_below_minimum")
            out.append(f"`{n}` too small (" + (f"under {f['min_rows_per_label']} rows for {', '.join(below)}" if below
                                                else f"under {f['min_rows']} rows") + ")")
    return "; ".join(out)
