"""What changed between two compiled recipes, node by node: compares the typed IR behind each plan
node (never the text), so a reformat or a moved comment is no change and a one-word prompt edit is
a change of `render:<variant>` in its `prompt` template.

Each plan node reads a fixed part of the IR (its *config*: a variant's prompt for `render:`, the
model's sampling for `generate:`, a retriever's parameters for `index:` …). A node is `changed` when
its own config differs, `upstream` when only something it consumes changed, `added`/`removed` when
it exists on one side only. Row-level consequences (which requests regenerate, what is cached)
need data and are the runtime's (`synthc.runtime.preview.run`); this module is the why.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass
from typing import Any

import networkx as nx

from synthc.compiler import ir
from synthc.compiler.dump import to_data
from synthc.compiler.plan import Plan
from synthc.compiler.templates import variables

__all__ = ["FieldChange", "NodeChange", "LabelChange", "IRDiff", "diff_plans", "node_config", "word_diff"]


class TemplateText(str):
    """A Jinja template's text inside a config (shown as a word diff, reported as `template`)."""


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str  # dotted, from the node's config: "prompt", "fewshot.shots", "model.temperature"
    old: Any  # None when added
    new: Any  # None when removed
    template: bool = False

    def describe(self) -> str:
        if self.template:
            return f"{self.path} template: {word_diff(str(self.old or ''), str(self.new or ''))}"
        if isinstance(self.old, str) and isinstance(self.new, str) and max(len(self.old), len(self.new)) > 40:
            return f"{self.path}: {word_diff(self.old, self.new)}"
        return f"{self.path}: {_show(self.old)} → {_show(self.new)}"


@dataclass(frozen=True, slots=True)
class NodeChange:
    node: str
    kind: str  # the step kind (load sample index retrieve persona render generate …)
    status: str  # "changed" | "upstream" | "added" | "removed" | "same"
    variant: str | None = None
    changes: tuple[FieldChange, ...] = ()  # the node's own config
    because: tuple[str, ...] = ()  # upstream: the changed/added nodes it consumes, nearest first


@dataclass(frozen=True, slots=True)
class LabelChange:
    label_set: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    reworded: tuple[str, ...] = ()  # same name, new verbalization


@dataclass(frozen=True, slots=True)
class IRDiff:
    nodes: tuple[NodeChange, ...]  # every node of both plans, in the new plan's order, removed last
    labels: tuple[LabelChange, ...]
    params: tuple[FieldChange, ...]

    def node(self, node: str) -> NodeChange:
        return next(n for n in self.nodes if n.node == node)

    @property
    def touched(self) -> tuple[NodeChange, ...]:
        return tuple(n for n in self.nodes if n.status != "same")


def diff_plans(old: Plan, new: Plan) -> IRDiff:
    """Compare two plans node by node (see the module doc)."""
    changes: dict[str, NodeChange] = {}
    for node in new.order():
        step = new.step(node)
        if node not in old.graph:
            changes[node] = NodeChange(node, step.kind, "added", step.variant)
            continue
        own = _compare(node_config(old, node), node_config(new, node))
        changes[node] = NodeChange(node, step.kind, "changed" if own else "same", step.variant, own)
    for node in new.order():  # topological: a node's inputs are settled before it
        c = changes[node]
        if c.status != "same":
            continue
        hit = [a for a in _nearest_first(new, node) if changes[a].status in ("changed", "added")]
        if hit:
            changes[node] = dataclasses.replace(c, status="upstream", because=tuple(hit))
    removed = [NodeChange(n, old.step(n).kind, "removed", old.step(n).variant) for n in old.order()
               if n not in new.graph]
    return IRDiff(tuple(changes[n] for n in new.order()) + tuple(removed),
                  _label_changes(old.program, new.program),
                  _compare(dict(old.program.params), dict(new.program.params)))


def _nearest_first(p: Plan, node: str) -> list[str]:
    dist = nx.single_source_shortest_path_length(p.graph.reverse(copy=False), node)
    return sorted((a for a in dist if a != node), key=lambda a: (dist[a], a))


# -- what each node reads ---------------------------------------------------------------------

def node_config(p: Plan, node: str) -> dict[str, Any]:
    """The part of the IR a plan node's output depends on, as plain data (see the module doc)."""
    prog = p.program
    step = p.step(node)
    kind, target = step.kind, step.target
    if kind in ("load", "index", "persona", "export", "evaluate"):
        return _data(target, drop=("name", "sample"))  # a source's sample is its sample node's
    if kind == "sample":
        return {"sample": _data(target.sample)}
    if kind == "oracle":
        return {}  # trained on its source's rows, nothing else
    v: ir.Variant = target
    if kind == "retrieve":
        return _data(v.retrieve)
    if kind == "render":
        cfg = {f: _data(getattr(v, f)) for f in
               ("prompt", "system", "per_label", "total", "seed", "vary", "fewshot", "conversation", "kind")}
        if v.labels:
            cfg["labels"] = {lb.name: lb.verbalization for lb in prog.label_set(v.labels).labels}
        if any("param" in variables(t) for t in _templates(v)):
            cfg["param"] = dict(prog.params)
        return cfg
    if kind == "generate":  # everything in a request besides the rendered messages
        model = _data(prog.model(v.model), drop=("name", "context", "threads"))
        return {"model": model, "output": _data(v.output)}
    if kind == "parse":
        return {"parse": _data(v.parse), "output": _data(v.output)}
    if kind == "filter":
        return _data(v.filter)
    if kind == "negatives":
        return _data(v.pairs)
    raise ValueError(f"unknown plan node kind `{kind}`")


def _templates(v: ir.Variant) -> list[str]:
    out = [v.prompt.text] + ([v.system.text] if v.system else [])
    if v.fewshot:
        out.append(v.fewshot.demo.text)
    return out


def _data(obj: Any, drop: tuple[str, ...] = ()) -> Any:
    """The IR's data (compiler/dump.py: to_data), templates marked as TemplateText."""
    return to_data(obj, drop, template=lambda t: TemplateText(t.text))


def _compare(old: Any, new: Any, path: str = "") -> tuple[FieldChange, ...]:
    if old == new and type(old) is type(new):
        return ()
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[FieldChange] = []
        for key in list(old) + [k for k in new if k not in old]:
            sub = f"{path}.{key}" if path else str(key)
            out += _compare(old.get(key), new.get(key), sub)
        return tuple(out)
    if old == new:
        return ()
    return (FieldChange(path or "value", old, new, isinstance(old, TemplateText) or isinstance(new, TemplateText)),)


def _label_changes(old: ir.Program, new: ir.Program) -> tuple[LabelChange, ...]:
    before = {s.name: {lb.name: lb.verbalization for lb in s.labels} for s in old.label_sets}
    after = {s.name: {lb.name: lb.verbalization for lb in s.labels} for s in new.label_sets}
    out = []
    for name in list(after) + [n for n in before if n not in after]:
        a, b = before.get(name, {}), after.get(name, {})
        change = LabelChange(name, tuple(k for k in b if k not in a), tuple(k for k in a if k not in b),
                             tuple(k for k in b if k in a and a[k] != b[k]))
        if change.added or change.removed or change.reworded:
            out.append(change)
    return tuple(out)


# -- showing changes ----------------------------------------------------------------------------

_WORDS = re.compile(r"\s+|[^\s]+")


def word_diff(old: str, new: str, context: int = 4) -> str:
    """`…a summary for the [-above-]{+following+} news article…`: changed words with `context`
    words either side; long unchanged stretches between changes become ` … `."""
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    ops = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    keep = 2 * context  # tokens: a word and the whitespace after it
    parts: list[str] = []
    for n, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag != "equal":
            gone, came = "".join(a[i1:i2]), "".join(b[j1:j2])
            parts.append((f"[-{_vis(gone)}-]" if gone else "") + (f"{{+{_vis(came)}+}}" if came else ""))
            continue
        words = a[i1:i2]
        if n == 0 and len(words) > keep:
            parts.append("…" + "".join(words[-keep:]))
        elif n == len(ops) - 1 and len(words) > keep:
            parts.append("".join(words[:keep]) + "…")
        elif 0 < n < len(ops) - 1 and len(words) > 2 * keep:
            parts.append("".join(words[:keep]) + " … " + "".join(words[-keep:]))
        else:
            parts.append("".join(words))
    return _vis("".join(parts).strip()) or "(whitespace only)"


def _vis(s: str) -> str:
    return s.replace("\n", "⏎")


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "…")
    if isinstance(value, (list, dict)) and len(repr(value)) > 60:
        return repr(value)[:57] + "…"
    return repr(value) if not isinstance(value, bool) else str(value).lower()
