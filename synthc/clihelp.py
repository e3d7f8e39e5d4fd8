"""What `synthc --help` and each command's help show beyond the options: examples, colours.

Colour follows the conventions users expect (no-color.org, clig.dev): on for a terminal, off when
the stream is not a terminal, when NO_COLOR is set (to anything) or TERM=dumb; FORCE_COLOR turns it
on regardless (CI logs that render ANSI).
"""

from __future__ import annotations

import argparse
import os
from typing import TextIO

from synthc.compiler.style import paint

__all__ = ["EXAMPLES", "use_color", "formatter", "epilog"]

# command -> (example command, what it does); "" is `synthc` itself.
EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "": (
        ("synthc init data/train.jsonl --out my.synth", "scaffold a recipe from your own data"),
        ("synthc check my.synth", "compile it: every mistake gets a coded diagnostic"),
        ("synthc build my.synth --set per_label=50", "generate the dataset"),
        ("synthc explain E105", "what a diagnostic code means"),
        ("source <(synthc completion bash)", "tab completion in this shell"),
    ),
    "check": (
        ("synthc check examples/quickstart.synth", "compile; verify every file the recipe reads"),
        ("synthc check specs/*.synth --format concise", "one line per diagnostic (file:line:col)"),
        ("synthc check my.synth --set per_label=0", "with a param overridden"),
    ),
    "plan": (
        ("synthc plan specs/synthesizrr_ag_news.synth", "the DAG: nodes, requests, waves"),
        ("synthc plan examples/quickstart.synth --tokens", "+ cached/new rows; prompt tokens and time of the new ones"),
        ("synthc plan my.synth --prompts", "+ the exact prompt of each variant's first row"),
        ("synthc plan my.synth --dot | dot -Tsvg > plan.svg", "draw it with Graphviz"),
    ),
    "show": (
        ("synthc show examples/quickstart.synth", "the exact prompt of one row per label of every variant"),
        ("synthc show specs/synthesizrr_ag_news.synth --variant SynthesizRR_0 --rows 4", "four rows of one variant"),
        ("synthc show my.synth --row positive/000003", "one row, by its key or a dataset row's `id`"),
        ("synthc show my.synth --templated", "as the model reads it: the chat template applied"),
    ),
    "diff": (
        ("synthc diff old.synth new.synth", "which nodes change and why; rows regenerated, cached; cost"),
        ("synthc diff specs/x.synth --against HEAD~1", "against the recipe at a git revision"),
        ("synthc diff specs/x.synth --against main --markdown", "a summary for a pull request (--json for tools)"),
    ),
    "fmt": (
        ("synthc fmt specs/*.synth", "format in place"),
        ("synthc fmt --check specs/*.synth", "exit 1 if a file is not formatted (CI, pre-commit)"),
        ("synthc fmt --diff specs/*.synth", "show what would change, as a unified diff"),
        ("cat my.synth | synthc fmt - --stdin-filename my.synth", "stdin to stdout (format on save)"),
    ),
    "explain": (
        ("synthc explain E410", "what E410 means, an example and how to fix it"),
        ("synthc explain", "list every code"),
    ),
    "build": (
        ("synthc build examples/quickstart.synth", "build on the embedded model"),
        ("synthc build my.synth --set per_label=100 --select reviews.few_shot", "one variant, more rows"),
        ("synthc build my.synth --backend fake", "a dry run with the deterministic stand-in"),
        ("synthc build my.synth --locked", "refuse if a model, data file or version changed"),
    ),
    "doctor": (
        ("synthc doctor my.synth", "probe every model the recipe names: server, context, constraints, speed"),
        ("synthc doctor smollm2-135m", "load a local model and measure its tokens/s on this machine"),
        ("synthc doctor http://127.0.0.1:8080/v1 --dialect llama_cpp --json", "what a server enforces, as JSON"),
    ),
    "init": (
        ("synthc init data/train.jsonl", "classification: labels and counts from the file"),
        ("synthc init reviews.csv --text-field review --label-field stars --out stars.synth", "other columns"),
        ("synthc init questions.jsonl --task qa", "question answering: (query, answer) pairs"),
    ),
    "eval": (
        ("synthc eval out/a.jsonl out/b.jsonl --real data/ag_news/test.jsonl --train data/ag_news/train.jsonl",
         "compare two datasets"),
        ("synthc eval fewshot=a.parquet zeroshot=b.parquet --real test.jsonl --metrics self_bleu,student",
         "named datasets, some metrics"),
    ),
    "lsp": (
        ("synthc lsp", "speak LSP on stdin/stdout; editors start it (docs/editors.md)"),
    ),
    "completion": (
        ("source <(synthc completion bash)", "bash, this shell; add it to ~/.bashrc to keep it"),
        ("synthc completion zsh > \"${fpath[1]}/_synthc\"", "zsh"),
        ("synthc completion fish > ~/.config/fish/completions/synthc.fish", "fish"),
    ),
}


def use_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


def epilog(command: str, color: bool) -> str:
    rows = EXAMPLES[command]
    lines = [paint("examples:", "heading", color)]
    for cmd, what in rows:
        lines.append(f"  {paint('$ ' + cmd, 'command', color)}")
        lines.append(f"      {what}")
    if command == "":
        lines.append("")
        lines.append("Run `synthc COMMAND --help` for a command's options and examples.")
        lines.append("Docs: docs/language.md (recipes), docs/codes.md (diagnostics), data/README.md (datasets).")
    return "\n".join(lines)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's layout; colours section headings and the usage line on a terminal."""

    color = False

    def start_section(self, heading: str | None) -> None:
        super().start_section(paint(heading, "heading", self.color) if heading else heading)

    def _format_usage(self, usage, actions, groups, prefix):  # type: ignore[no-untyped-def]
        # Colour after wrapping: escape codes in the prefix would count towards the line width.
        text = super()._format_usage(usage, actions, groups, prefix)
        if self.color and text.startswith("usage: "):
            text = paint("usage:", "usage", True) + text[len("usage:"):]
        return text


def formatter(color: bool) -> type[argparse.HelpFormatter]:
    """The formatter class argparse instantiates (it calls `formatter_class(prog=...)`)."""
    return type("SynthcFormatter", (_Formatter,), {"color": color})
