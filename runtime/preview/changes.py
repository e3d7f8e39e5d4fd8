"""`synthc diff`: what a recipe change will regenerate and cost, before building.

The why comes from the compiler (`compiler/irdiff.py`: which node's config changed — which
attribute, which template — and what it feeds). The how-many comes from running both recipes'
builds against the cache (`runtime/preview/run.py`): a row *regenerates* when its request — with
the conversation history and `once` values it carries, as far as they are known — is not among the
old recipe's, and *is cached* when the new request's key is in `.synthc/cache.sqlite`. Both recipes
size their first rounds from the recipe's lock (the working tree's). The cost — prompt
tokens and time — is that of the rows a build would actually generate: the uncached ones when a
cache exists, else the regenerated ones.

Text for a terminal, JSON (`DIFF_SCHEMA_VERSION`) for tools, Markdown for a pull request.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Any, Callable

from synthc.compiler.irdiff import IRDiff, diff_plans
from synthc.compiler.plan import Plan, request_count, variant_node
from synthc.compiler.resolve import Loader
from synthc.runtime.preview.run import NodeRows, Preview, preview
from synthc.runtime.preview.estimate import duration, speeds

__all__ = ["VariantRows", "RecipeDiff", "diff_recipes", "git_loader", "GitError", "text", "markdown", "as_json",
           "DIFF_SCHEMA_VERSION"]

DIFF_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class VariantRows:
    variant: str  # task.variant
    old: int | None  # rows of the old recipe (None: the variant is new)
    new: int | None  # rows of the new recipe (None: the variant is gone)
    regenerate: int = 0  # new rows whose request is not among the old recipe's
    unchanged: int = 0
    cached: int | None = None  # new rows in the cache (None: no cache)
    generate: int = 0  # rows a build would generate now
    prompt_tokens: int = 0  # of the rows to generate (history of conversation turns not counted)
    max_new_tokens: int = 0
    seconds: float = 0.0
    error: str | None = None  # rows could not be rendered (data missing…): counts are the plan's bounds


@dataclass(frozen=True, slots=True)
class RecipeDiff:
    old_name: str
    new_name: str
    ir: IRDiff
    variants: tuple[VariantRows, ...]
    cache_found: bool
    speeds: tuple[float, float]  # prompt, decode tokens/s used for `seconds`

    @property
    def generate(self) -> int:
        return sum(v.generate for v in self.variants)

    @property
    def seconds(self) -> float:
        return sum(v.seconds for v in self.variants)


def diff_recipes(old: Plan, new: Plan, old_name: str, new_name: str, *, backend: str = "llama",
                 rows: bool = True, progress: Callable[[str], None] | None = None,
                 recipe: str | None = None) -> RecipeDiff:
    """Compare two compiled recipes; with `rows`, preview both builds to count rows, cache hits and
    cost. `recipe`: the spec whose lock sizes both recipes' first rounds."""
    ird = diff_plans(old, new)
    gens = lambda p: [n for n in p.order() if p.step(n).kind == "generate"]  # noqa: E731
    before = preview(old, recipe=recipe, backend=backend, nodes=gens(old), progress=progress) if rows else None
    after = preview(new, recipe=recipe, backend=backend, nodes=gens(new), count=True, progress=progress) if rows else None
    variants = []
    old_v = {v.id: v for v in old.program.variants()}
    new_v = {v.id: v for v in new.program.variants()}
    for vid in list(new_v) + [x for x in old_v if x not in new_v]:
        node = variant_node("generate", vid)
        n_old = request_count(old_v[vid], old.program)[0] if vid in old_v else None
        n_new = request_count(new_v[vid], new.program)[0] if vid in new_v else None
        if vid not in new_v:
            variants.append(VariantRows(vid, n_old, None))
            continue
        if before is None or after is None or node not in after.nodes or (vid in old_v and node not in before.nodes):
            why = (after.errors.get(node) or before.errors.get(node)) if after and before else None
            bound = n_new or 0
            regen = bound if ird.node(node).status != "same" else 0
            variants.append(VariantRows(vid, n_old, n_new, regen, bound - regen, None, regen,
                                        error=why or "rows not rendered (--no-rows)"))
            continue
        variants.append(_rows(vid, before.nodes.get(node), after.nodes[node], after))
    sp = speeds(after.backend() if after else None)
    variants = [_priced(v, sp) for v in variants]
    return RecipeDiff(old_name, new_name, ird, tuple(variants), bool(after and after.cache_found), sp)


def _rows(vid: str, old: NodeRows | None, new: NodeRows, after: Preview) -> VariantRows:
    """The variant's rows (its `once` value requests are counted in what a build generates)."""
    known = {r.cache_key for r in old.rows} if old else set()
    rows = new.data_rows()
    regen = [r for r in rows if r.cache_key not in known]
    todo = new.new_rows() if after.cache_found else tuple(r for r in new.rows if r.cache_key not in known)
    cached = sum(r.cached for r in rows)
    return VariantRows(vid, len(old.data_rows()) if old else None, len(rows), len(regen), len(rows) - len(regen),
                       cached if after.cache_found else None, len(todo),
                       sum(r.prompt_tokens or 0 for r in todo), sum(r.max_tokens for r in todo))


def _priced(v: VariantRows, sp: tuple[float, float]) -> VariantRows:
    from dataclasses import replace

    return replace(v, seconds=v.prompt_tokens / sp[0] + v.max_new_tokens / sp[1])


# -- reading a recipe at a git revision ------------------------------------------------------------

class GitError(Exception):
    pass


def git_loader(spec: str, rev: str) -> Loader:
    """A compiler Loader that reads the recipe and its imports as they were at git revision `rev`
    (data files are still read from the working tree)."""
    where = os.path.dirname(os.path.abspath(spec))
    top = _git(where, "rev-parse", "--show-toplevel").strip()
    _git(where, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")

    def name(path: str) -> str:
        rel = os.path.relpath(os.path.abspath(path), top)
        if rel.startswith(".."):
            raise FileNotFoundError(2, f"outside the git repository {top}", path)
        return f"{rev}:{rel.replace(os.sep, '/')}"

    def read(path: str) -> str:
        try:
            return _git(top, "show", name(path))
        except GitError:
            raise FileNotFoundError(2, f"no such file at {rev}", path) from None

    def exists(path: str) -> bool:
        try:
            _git(top, "cat-file", "-e", name(path))
            return True
        except (GitError, FileNotFoundError):
            return False

    return Loader(read=read, exists=exists)


def _git(cwd: str, *args: str) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"git {args[0]} failed: {exc}") from None
    if proc.returncode != 0:
        msg = proc.stderr.strip().splitlines()
        raise GitError(msg[-1] if msg else f"git {' '.join(args)} exited {proc.returncode}")
    return proc.stdout


# -- showing it ---------------------------------------------------------------------------------

def _cache_word(v: VariantRows) -> str:
    return "" if v.cached is None else f"; {v.cached} cached"


def _row_line(v: VariantRows) -> str:
    if v.new is None:
        return f"removed (had {v.old} rows)"
    if v.error:
        return f"{v.new} rows (bound from the plan; {v.error})"
    size = f"{v.old} → {v.new} rows" if v.old is not None and v.old != v.new else f"{v.new} rows"
    if v.old is None:
        size = f"new variant, {v.new} rows"
    return f"{size}: {v.regenerate} regenerate, {v.unchanged} unchanged{_cache_word(v)}; {v.generate} to generate"


def _cost(d: RecipeDiff) -> str:
    tokens = sum(v.prompt_tokens for v in d.variants)
    cap = sum(v.max_new_tokens for v in d.variants)
    if not d.generate:
        return "nothing to generate"
    return (f"{d.generate} request(s) to generate: {tokens:,} prompt tokens, ≤ {cap:,} generated; "
            f"≈ {duration(d.seconds)} at {d.speeds[0]:.0f}/{d.speeds[1]:.0f} tok/s (prompt/decode)")


def text(d: RecipeDiff) -> str:
    lines = [f"synthc diff {d.old_name} → {d.new_name}"]
    touched = d.ir.touched
    if not touched and not d.ir.params and not d.ir.labels:
        lines.append("no change to what the recipe generates or writes")
    for n in touched:
        if n.status == "changed":
            lines.append(f"changed  {n.node}")
            lines += [f"           {c.describe()}" for c in n.changes]
        elif n.status in ("added", "removed"):
            lines.append(f"{n.status:<8} {n.node}")
    upstream = [n for n in touched if n.status == "upstream"]
    if upstream:
        lines.append(f"affected {len(upstream)} node(s) downstream of a change: "
                     + ", ".join(n.node for n in upstream if n.kind == "generate") or "…")
    for c in d.ir.params:
        lines.append(f"param    {c.describe()}")
    for lc in d.ir.labels:
        parts = [f"+{', +'.join(lc.added)}" if lc.added else "", f"-{', -'.join(lc.removed)}" if lc.removed else "",
                 f"reworded {', '.join(lc.reworded)}" if lc.reworded else ""]
        lines.append(f"labels   {lc.label_set}: {'; '.join(p for p in parts if p)}")
    lines.append("rows" + ("" if d.cache_found else " (no cache beside the recipe yet: cost counts regenerated rows)"))
    width = max((len(v.variant) for v in d.variants), default=0)
    lines += [f"  {v.variant.ljust(width)}  {_row_line(v)}" for v in d.variants]
    lines.append(f"cost     {_cost(d)}")
    return "\n".join(lines) + "\n"


def markdown(d: RecipeDiff) -> str:
    regen = sum(v.regenerate for v in d.variants)
    out = [f"### synthc diff: `{d.old_name}` → `{d.new_name}`", "",
           f"**{regen} row(s) regenerate**, {_cost(d)}.", "",
           "| variant | rows | regenerate | unchanged | cached | to generate | prompt tokens | time |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for v in d.variants:
        rows = "removed" if v.new is None else (f"{v.old} → {v.new}" if v.old not in (None, v.new) else str(v.new))
        cached = "–" if v.cached is None else str(v.cached)
        out.append(f"| `{v.variant}` | {rows} | {v.regenerate} | {v.unchanged} | {cached} | {v.generate} | "
                   f"{v.prompt_tokens:,} | {duration(v.seconds) if v.generate else '–'} |")
    changed = [n for n in d.ir.touched if n.status != "upstream"]
    if changed or d.ir.labels or d.ir.params:
        out += ["", "<details><summary>What changed</summary>", ""]
        for n in changed:
            what = "; ".join(c.describe() for c in n.changes) if n.changes else n.status
            out.append(f"- `{n.node}` — {_md(what)}")
        out += [f"- param {_md(c.describe())}" for c in d.ir.params]
        for lc in d.ir.labels:
            out.append(f"- labels `{lc.label_set}`: added {list(lc.added)}, removed {list(lc.removed)}, "
                       f"reworded {list(lc.reworded)}")
        out += ["", "</details>"]
    return "\n".join(out) + "\n"


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("<", "&lt;")


def as_json(d: RecipeDiff) -> str:
    data: dict[str, Any] = {
        "schema_version": DIFF_SCHEMA_VERSION, "old": d.old_name, "new": d.new_name,
        "cache_found": d.cache_found, "speeds": {"prompt": d.speeds[0], "decode": d.speeds[1]},
        "nodes": [{"node": n.node, "kind": n.kind, "status": n.status, "variant": n.variant,
                   "changes": [{"path": c.path, "old": c.old, "new": c.new, "template": c.template,
                                "description": c.describe()} for c in n.changes],
                   "because": list(n.because)} for n in d.ir.touched],
        "params": [{"path": c.path, "old": c.old, "new": c.new} for c in d.ir.params],
        "labels": [{"label_set": lc.label_set, "added": list(lc.added), "removed": list(lc.removed),
                    "reworded": list(lc.reworded)} for lc in d.ir.labels],
        "variants": [{"variant": v.variant, "rows_old": v.old, "rows_new": v.new, "regenerate": v.regenerate,
                      "unchanged": v.unchanged, "cached": v.cached, "generate": v.generate,
                      "prompt_tokens": v.prompt_tokens, "max_new_tokens": v.max_new_tokens,
                      "seconds": round(v.seconds, 1), "error": v.error} for v in d.variants],
        "total": {"regenerate": sum(v.regenerate for v in d.variants), "generate": d.generate,
                  "prompt_tokens": sum(v.prompt_tokens for v in d.variants), "seconds": round(d.seconds, 1)},
    }
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"
