"""The evaluation report: `metrics.json`, a self-contained `report.html`, `report.md` and PNG plots.

The HTML inlines its plots (base64), so it can be mailed or attached to a PR as one file. Plots
are rendered by matplotlib's Agg backend with the PNG "Software" stamp removed, so a report is
byte-identical for identical metrics. The verdict line at the top comes from runtime/eval/verdict.py
(a winner only beyond the seeds' spread or a significant retrieval difference); the side-by-side
table is transposed (measures as rows) and split so no line is wider than 100 characters.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from typing import Any, Callable

from synthc.runtime.eval.evaluate import Evaluation
from synthc.runtime.eval.measures import MEASURES, plotted
from synthc.runtime.io.writers import write_atomic

__all__ = ["write_report", "table_text", "fmt", "WIDTH", "REPORT_FILES", "NotOwned", "check_report_targets",
           "is_synthc_report"]

_ARROW = {"lower": "↓", "higher": "↑", "": ""}
WIDTH = 100  # a laptop terminal / editor: no table line is wider


def fmt(v: Any) -> str:
    """A table cell: a float to 4 decimals (2 from 10), a student score as mean±std, None as –."""
    if v is None:
        return "–"
    if isinstance(v, dict):  # a student score: mean ± std over seeds
        return f"{v['mean']:.3f}±{v['std']:.3f}"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"
    return str(v)


def _chunks(summary: dict[str, Any], first: int, cell: Callable[[str], int], width: int) -> list[list[str]]:
    """Dataset names split into groups whose table stays within `width` characters; the measures
    are the rows (transposed), so many variants add columns only up to the screen's width."""
    groups: list[list[str]] = [[]]
    used = first
    for name in summary["rows"]:
        w = cell(name)
        if groups[-1] and used + w > width:
            groups.append([])
            used = first
        groups[-1].append(name)
        used += w
    return groups


def _cells(summary: dict[str, Any], names: list[str], bold: str) -> list[tuple[str, list[str]]]:
    out = []
    for c in summary["columns"]:
        title = f"{c['title']} {_ARROW[c['better']]}".strip()
        vals = []
        for n in names:
            v = fmt(summary["rows"][n][c["key"]])
            vals.append(bold.format(v) if n in summary["best"].get(c["key"], []) and bold else v)
        out.append((title, vals))
    return out


def table_text(summary: dict[str, Any], width: int = WIDTH) -> str:
    """The side-by-side table as aligned plain text for a terminal, split to fit `width`."""
    first = max(len(f"{c['title']} ↑") for c in summary["columns"]) + 1
    cell = lambda n: max(len(n), 11) + 2  # noqa: E731
    blocks = []
    for names in _chunks(summary, first, cell, width):
        lines = [" " * first + "".join(n.rjust(cell(n)) for n in names)]
        for title, vals in _cells(summary, names, ""):
            lines.append(title.ljust(first) + "".join(v.rjust(cell(n)) for v, n in zip(vals, names)))
        blocks.append("\n".join(line.rstrip() for line in lines))
    return "\n\n".join(blocks)


def _table_md(summary: dict[str, Any], width: int = WIDTH) -> str:
    first = max(len(f"{c['title']} ↑") for c in summary["columns"]) + 4
    cell = lambda n: max(len(n), 15) + 3  # noqa: E731
    blocks = []
    for names in _chunks(summary, first, cell, width):
        lines = ["| measure | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        for title, vals in _cells(summary, names, "**{}**"):
            lines.append(f"| {title} | " + " | ".join(vals) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _table_html(summary: dict[str, Any], datasets: dict[str, Any]) -> str:
    """The same transposed table, split like the text one so a laptop window never scrolls sideways."""
    first = max(len(c["title"]) for c in summary["columns"]) + 2
    tables = []
    for names in _chunks(summary, first, lambda n: max(len(n), 11) + 2, WIDTH):
        head = "".join(f"<th class='{'ref' if datasets[n].get('reference') else ''}'>{html.escape(n)}"
                       + (" <span class='tag'>reference</span>" if datasets[n].get("reference") else "") + "</th>"
                       for n in names)
        body = []
        for c in summary["columns"]:
            tip = html.escape(c["better"] + " is better" if c["better"] else "")
            tds = "".join(f"<td class='{'best' if n in summary['best'].get(c['key'], []) else ''}'>"
                          f"{html.escape(fmt(summary['rows'][n][c['key']]))}</td>" for n in names)
            body.append(f"<tr><th title='{tip}'>{html.escape(c['title'])} {_ARROW[c['better']]}</th>{tds}</tr>")
        tables.append(f"<table><thead><tr><th>measure</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
    return "".join(tables)


def _comparisons_md(m: dict[str, Any]) -> list[str]:
    comps = [c for c in m.get("comparisons", []) if c["student"] == m.get("students", {}).get("primary")]
    if not comps:
        return []
    out = ["## Paired comparisons", "",
           f"Student `{comps[0]['student']}` macro-F1, a − b over the same seeds; a pair is separated only when "
           "the 95% interval excludes 0 and the difference exceeds the seeds' spread.", "",
           "| a | b | mean a−b | 95% CI | spread | verdict |", "|---|---|---:|---|---:|---|"]
    for c in comps:
        ci = f"[{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}]" if "ci95" in c else "–"
        spread = f"{c['spread']:.3f}" if "spread" in c else "–"
        diff = "–" if c.get("mean_diff") is None else f"{c['mean_diff']:+.3f}"
        out.append(f"| {c['a']} | {c['b']} | {diff} | {ci} | {spread} | {c['verdict']} |")
    return out + [""]


IR_COLUMNS = ("P@1", "nDCG@3", "nDCG@10", "R@100", "MAP@100")


def _ir_rows(ir: dict[str, Any]) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, float]]:
    """Runs in a stable order (BM25 first, then fused runs, then re-rankers alone) and the best
    value per metric among the fused runs."""
    runs = ir["runs"]
    order = sorted(runs, key=lambda n: (n != "BM25", not n.startswith("BM25 +"), n))
    fused = [runs[n]["metrics"] for n in order if n.startswith("BM25 +")]
    best = {c: max(m[c] for m in fused) for c in IR_COLUMNS} if fused else {}
    return [(n, runs[n]) for n in order], best


def _ir_md(ir: dict[str, Any]) -> list[str]:
    rows, best = _ir_rows(ir)
    out = ["## Retrieval (Sy-SE-PQA)", "",
           f"{ir['queries']['test']} test questions ({ir['queries']['validation']} more tune the fusion weight); "
           f"{ir['first_stage']}; re-ranker: {ir['reranker']}.", "",
           "| run | " + " | ".join(IR_COLUMNS) + " | fusion weight | better than (p < 0.01) |",
           "|---|" + "---|" * (len(IR_COLUMNS) + 2)]
    for name, r in rows:
        cells = [f"**{r['metrics'][c]:.4f}**" if best.get(c) == r["metrics"][c] and name.startswith("BM25 +")
                 else f"{r['metrics'][c]:.4f}" for c in IR_COLUMNS]
        sig = "; ".join(f"{m}: {', '.join(v)}" for m, v in r.get("significantly_better_than", {}).items() if v)
        out.append(f"| {name} | " + " | ".join(cells) + f" | {r.get('weight', '')} | {sig} |")
    return out + [""]


def _ir_html(ir: dict[str, Any]) -> str:
    rows, best = _ir_rows(ir)
    head = "".join(f"<th>{c}</th>" for c in IR_COLUMNS)
    body = []
    for name, r in rows:
        tds = "".join(f"<td class='{'best' if best.get(c) == r['metrics'][c] and name.startswith('BM25 +') else ''}'>"
                      f"{r['metrics'][c]:.4f}</td>" for c in IR_COLUMNS)
        sig = "; ".join(f"{m}: {', '.join(v)}" for m, v in r.get("significantly_better_than", {}).items() if v)
        body.append(f"<tr><th>{html.escape(name)}</th>{tds}<td>{r.get('weight', '')}</td>"
                    f"<td style='text-align:left'>{html.escape(sig)}</td></tr>")
    return (f"<h2>Retrieval (Sy-SE-PQA)</h2><p>{ir['queries']['test']} test questions "
            f"({ir['queries']['validation']} more tune the fusion weight); {html.escape(ir['first_stage'])}; "
            f"re-ranker: {html.escape(ir['reranker'])}. {html.escape(ir['fusion'])}; {html.escape(ir['significance'])}."
            f"</p><table><thead><tr><th>run</th>{head}<th>fusion weight</th><th>better than (p &lt; 0.01)</th></tr>"
            f"</thead><tbody>{''.join(body)}</tbody></table>")


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _plots(ev: Evaluation) -> dict[str, bytes]:
    """name → PNG bytes; a plot is left out when its data is absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    out: dict[str, bytes] = {}
    m, fig_data = ev.metrics, ev.figures
    labels = fig_data.get("labels", {})
    if labels:
        names = sorted({lab for d in labels.values() for lab in d})
        fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(names) * max(1, len(labels)) / 2), 3))
        width = 0.8 / len(labels)
        for k, (ds, counts) in enumerate(labels.items()):
            total = sum(counts.values()) or 1
            ax.bar([i + k * width for i in range(len(names))], [counts.get(n, 0) / total for n in names], width, label=ds)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))], names, rotation=20)
        ax.set_ylabel("share of rows")
        ax.set_title("Label distribution")
        ax.legend(fontsize=7, frameon=False)
        out["labels"] = _png(fig)
    rows = m["summary"]["rows"]
    div = [(c.key, f"{c.title} {_ARROW[c.better]}") for c in plotted() if any(r.get(c.key) is not None for r in rows.values())]
    if div:
        fig, axes = plt.subplots(1, len(div), figsize=(2.6 * len(div), 2.8), squeeze=False)
        for ax, (key, title) in zip(axes[0], div):
            names = [n for n in rows if rows[n].get(key) is not None]
            ax.barh(names, [rows[n][key] for n in names], color=["#999" if m["datasets"][n].get("reference") else "#3b6ea8" for n in names])
            ax.set_title(title)
            ax.invert_yaxis()
            if ax is not axes[0][0]:
                ax.set_yticks([])
        fig.suptitle("Diversity per dataset", y=1.05)
        out["diversity"] = _png(fig)
    proj = fig_data.get("projection", {})
    if len(proj) > 1:
        fig, ax = plt.subplots(figsize=(5, 4.2))
        for k, (name, pts) in enumerate(proj.items()):
            style = {"c": "#bbb", "s": 6} if k == 0 else {"s": 8}
            ax.scatter(pts[:, 0], pts[:, 1], alpha=0.6, label=name, **style)
        ax.set_title(f"Real vs synthetic (PCA of {m['parameters'].get('embedder', 'embeddings').split(' (')[0]})")
        ax.legend(fontsize=7, frameon=False, markerscale=2)
        ax.set_xticks([])
        ax.set_yticks([])
        out["projection"] = _png(fig)
    conf = fig_data.get("confusion", {})
    if conf:
        fig, axes = plt.subplots(1, len(conf), figsize=(3.2 * len(conf), 3.2), squeeze=False)
        for ax, (name, c) in zip(axes[0], conf.items()):
            import numpy as np

            mat = np.asarray(c["matrix"], dtype=float)
            norm = mat / np.maximum(mat.sum(axis=1, keepdims=True), 1)
            ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
            ax.set_xticks(range(len(c["labels"])), c["labels"], rotation=45, ha="right", fontsize=7)
            ax.set_yticks(range(len(c["labels"])), c["labels"] if ax is axes[0][0] else [], fontsize=7)
            for i in range(len(mat)):
                for j in range(len(mat)):
                    ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if norm[i, j] > 0.6 else "black")
            ax.set_title(name, fontsize=8)
        fig.suptitle("Student confusion on the real test split (rows: true, seed 0)", y=1.05)
        out["confusion"] = _png(fig)
    return out


_CSS = """body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
.verdict{background:#eef5ec;border-left:4px solid #4a8f3c;padding:.6em 1em;font-size:1.05em}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:.5em 0}
th,td{padding:.3em .6em;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
thead th{border-bottom:2px solid #999;font-weight:600}tbody th{text-align:left;font-weight:500}
td.best{font-weight:700;color:#1f6b2a;background:#eef8ee}th.ref{color:#777;font-style:italic}
.tag{font-size:.75em;background:#eee;border-radius:3px;padding:0 .3em;font-style:normal}
img{max-width:100%;margin:.4em 0}code{background:#f4f4f4;padding:0 .2em}ul.params li{margin:.15em 0}
details{margin:.5em 0}"""


def _params(m: dict[str, Any]) -> list[tuple[str, str]]:
    p = dict(m.get("parameters", {}))
    out = [(k, str(v)) for k, v in sorted(p.items())]
    out.append(("seeds", ", ".join(map(str, m["seeds"]))))
    out.append(("real test rows", str(m["real"]["rows"])))
    if m.get("train"):
        out.append(("gold train rows", str(m["train"]["rows"])))
    return out


def _details_html(name: str, d: dict[str, Any]) -> str:
    parts = [f"<details><summary><b>{html.escape(name)}</b> — all numbers</summary>"]
    parts += [m.details_html(d) for m in MEASURES]  # each measure's own, in registry order
    parts.append(f"<pre>{html.escape(json.dumps(d, indent=1, sort_keys=True))}</pre></details>")
    return "".join(parts)


REPORT_FILES = ("metrics.json", "report.md", "report.html")  # and figures/*.png


class NotOwned(Exception):
    """A report target exists and synthc did not write it (E524: it is never replaced)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def is_synthc_report(directory: str) -> bool:
    """True if `directory` holds a report synthc wrote: its metrics.json is one of ours. Such a folder's
    metrics.json, report.md, report.html and figures/*.png are synthc's to replace. (metrics.json is
    written first, so a report a kill interrupted is still recognised.)"""
    try:
        with open(os.path.join(directory, "metrics.json"), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"schema_version", "datasets", "verdict"} <= set(data)


def check_report_targets(directory: str, targets: list[str]) -> None:
    """Raise NotOwned for the first target that exists in a folder that is not a synthc report
    (a hand-written report.md or metrics.json): synthc never replaces a file it did not write."""
    if is_synthc_report(directory):
        return
    for path in targets:
        if os.path.lexists(path):
            raise NotOwned(path)


def write_report(ev: Evaluation, directory: str, title: str) -> list[str]:
    """Write metrics.json, figures/*.png, report.md and report.html atomically; returns the paths.
    Raises NotOwned, before writing any, if a target exists that synthc did not write."""
    m = ev.metrics
    plots = _plots(ev)
    figures = {os.path.join(directory, "figures", f"{name}.png"): data for name, data in sorted(plots.items())}
    check_report_targets(directory, [os.path.join(directory, f) for f in REPORT_FILES] + list(figures))
    metrics = os.path.join(directory, "metrics.json")
    write_atomic(metrics, (json.dumps(m, indent=2, sort_keys=True) + "\n").encode())  # first: marks the folder ours
    paths = []
    for path, data in figures.items():
        write_atomic(path, data)
        paths.append(path)
    summary, line = m["summary"], m["verdict"]["text"]
    unavailable = m.get("unavailable", {})
    md = [f"# {title}", "", f"**{line}**", "", _table_md(summary), "",
          "↑ higher is better, ↓ lower is better; bold = best synthetic dataset on that row (informational: "
          "the verdict comes from paired comparisons). Student cells: macro-F1 mean±std over seeds."
          + (f" `{m['reference']}` is a reference, not a contestant." if m.get("reference") else ""), ""]
    md += _comparisons_md(m)
    if m.get("ir"):
        md += _ir_md(m["ir"])
    md += [f"![{n}](figures/{n}.png)" for n in sorted(plots)] + [""]
    md += ["## Parameters", ""] + [f"- {k}: {v}" for k, v in _params(m)]
    if unavailable:
        md += ["", "## Unavailable", ""] + [f"- `{k}`: {v}" for k, v in unavailable.items()]
    imgs = "".join(f"<img alt='{n}' src='data:image/png;base64,{base64.b64encode(plots[n]).decode()}'>" for n in sorted(plots))
    unav = "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>" for k, v in unavailable.items())
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p class='verdict'>{html.escape(line).replace('`', '')}</p>"
            f"<h2>Side by side</h2>{_table_html(summary, m['datasets'])}"
            "<p><small>↑ higher is better, ↓ lower is better; green = best synthetic dataset on the row "
            "(informational: the verdict comes from paired comparisons); student cells are macro-F1 mean±std over "
            "seeds.</small></p>"
            + (_ir_html(m["ir"]) if m.get("ir") else "")
            + f"<h2>Plots</h2>{imgs or '<p>matplotlib is not installed.</p>'}"
            "<h2>Parameters</h2><ul class='params'>"
            + "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in _params(m)) + "</ul>"
            + (f"<h2>Unavailable</h2><ul>{unav}</ul>" if unav else "")
            + "<h2>Details</h2>" + "".join(_details_html(n, d) for n, d in m["datasets"].items())
            + "</body></html>\n")
    paths.append(metrics)
    for name, text in (("report.md", "\n".join(md) + "\n"), ("report.html", page)):
        path = os.path.join(directory, name)
        write_atomic(path, text.encode())
        paths.append(path)
    return paths
