"""`synthc init`: scaffold a working, commented recipe from the user's own data file.

The data is read by the runtime's readers (JSONL, CSV, Parquet: the formats a recipe's `source`
takes), the labels and their counts come from the file, and the recipe text is printed by the
canonical formatter, so what `init` writes passes `synthc check` and `synthc fmt --check` as is.
The output is created exclusively: an existing file is never overwritten.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass

from synthc.compiler.diagnostics import Sink
from synthc.compiler.lower import data_format
from synthc.compiler.source import NO_SPAN
from synthc.runtime.errors import RunFailed

__all__ = ["DataSummary", "summarize", "recipe_text", "write_recipe", "TASKS"]

TASKS = ("classification", "qa")
TEXT_COLUMNS = ("text", "sentence", "content", "review", "document", "question", "body", "title")
LABEL_COLUMNS = ("label", "labels", "class", "category", "sentiment", "target", "intent", "topic")
ANSWER_COLUMNS = ("answer", "response", "output", "reply")
MAX_LABELS = 50  # more distinct values than this is not a label column
HELDOUT = ("test", "validation", "valid", "dev")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True, slots=True)
class DataSummary:
    """What `init` learnt from the data file."""

    path: str  # as given
    format: str
    rows: int
    text: str  # text column
    label: str | None  # label column (classification)
    counts: tuple[tuple[str, int], ...]  # label -> rows, in first-seen order
    split: bool  # rows carry a `split` column with train and test values (or HF splits train and test)
    heldout: str | None  # a sibling held-out file (test.jsonl next to train.jsonl)
    answer: str | None  # qa: a column with reference answers (few-shot demos)
    test_split: str = "test"  # the held-out split's name (an HF dataset's may be `validation`)


def _error(code: str, message: str, help: str | None = None) -> RunFailed:
    sink = Sink()
    sink.error(code, message, NO_SPAN, help=help)
    return RunFailed(sink.items)


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str, flag: str) -> str:
    if wanted:
        if wanted not in columns:
            raise _error("E508", f"the data has no column `{wanted}`",
                         help=f"columns: {', '.join(columns)}; choose one with {flag}")
        return wanted
    for c in candidates:
        if c in columns:
            return c
    raise _error("E508", f"no {what} column found (looked for {', '.join(candidates)})",
                 help=f"columns: {', '.join(columns)}; name the {what} column with {flag}")


def summarize(path: str, task: str = "classification", text: str | None = None, label: str | None = None) -> DataSummary:
    """Read the data file and find its text and label columns, label counts and a held-out split."""
    from synthc.runtime.io.data import read_table

    fmt = data_format(path, root=".")
    hf_test = None
    if fmt == "hf":
        from synthc.runtime.io.hf import hf_splits, read_hf

        splits_ = hf_splits(path, None, NO_SPAN)
        hf_test = next((s for s in HELDOUT if s in splits_), None)
        records = read_hf(path, "train" if "train" in splits_ else splits_[0], None, NO_SPAN)
    elif os.path.isdir(path):
        raise _error("E503", f"{path} is a folder; `synthc init` reads a JSONL, CSV or Parquet file or a "
                     "Hugging Face dataset folder", help="name the file, e.g. data/train.jsonl")
    else:
        records = read_table(path, fmt, NO_SPAN)  # E503 missing, E504 malformed
    if not records:
        raise _error("E509", f"{path} has no rows", help="init reads the labels and their counts from the rows")
    columns = list(records[0])
    text_col = _pick(columns, text, TEXT_COLUMNS, "text", "--text-field")
    label_col = None
    counts: tuple[tuple[str, int], ...] = ()
    if task == "classification":
        label_col = _pick(columns, label, LABEL_COLUMNS, "label", "--label-field (or --task qa for unlabelled text)")
        missing = next((n for n, r in enumerate(records, 1) if label_col not in r or text_col not in r), None)
        if missing is not None:
            raise _error("E508", f"{path}: record {missing} lacks `{text_col}` or `{label_col}`")
        counts = tuple(Counter(str(r[label_col]) for r in records).items())
        if len(counts) > MAX_LABELS:
            raise _error("E504", f"column `{label_col}` has {len(counts)} distinct values: not a label column",
                         help="name the label column with --label-field, or use --task qa for unlabelled text")
        if len(counts) < 2:
            raise _error("E509", f"column `{label_col}` has a single value `{counts[0][0]}`; a classifier needs two labels",
                         help="use a file with at least two labels")
    splits = {str(r.get("split")) for r in records}
    split = {"train", "test"} <= splits or hf_test is not None
    answer = next((c for c in ANSWER_COLUMNS if c in columns), None) if task == "qa" else None
    return DataSummary(path, fmt, len(records), text_col, label_col, counts, split, _heldout(path), answer,
                       hf_test or "test")


def _heldout(path: str) -> str | None:
    """`test.jsonl` (or validation/dev) beside a file whose name says train."""
    folder, name = os.path.split(path)
    if "train" not in name:
        return None
    for alt in HELDOUT:
        other = os.path.join(folder, name.replace("train", alt))
        if os.path.isfile(other):
            return other
    return None


def _key(label: str) -> str:
    return label if _NAME.match(label) else _quote(label)


def _quote(s: str) -> str:
    from synthc.compiler.strings import encode_plain

    return encode_plain(s)


def _rel(path: str, out: str) -> str:
    """The data path as the recipe names it: relative to the recipe when the data is nearby (the
    pair moves together, e.g. in one repository), else absolute."""
    rel = os.path.relpath(os.path.abspath(path), os.path.dirname(os.path.abspath(out)))
    return rel.replace(os.sep, "/") if not rel.startswith(os.path.join("..", "..", "..")) else os.path.abspath(path)


def recipe_text(d: DataSummary | None, task: str, out: str) -> str:
    """The recipe, canonically formatted."""
    stem = os.path.splitext(os.path.basename(out))[0] or "recipe"
    if d is None:
        text = _no_data(stem)
    elif task == "qa":
        text = _qa(d, out, stem)
    else:
        text = _classification(d, out, stem)
    return _canonical(text, out)


def _canonical(text: str, out: str) -> str:
    from synthc.compiler.fmt import fmt
    from synthc.compiler.parse import parse
    from synthc.compiler.source import SourceFile

    sink = Sink()
    source = SourceFile.of(out, text)
    spec = parse(source, 0, sink)
    assert spec is not None and not sink.items, f"init generated an unparsable recipe: {sink.items}"
    return fmt(spec, source)


_MODEL = '''
# The embedded default model (SmolLM2-135M, runs on a laptop CPU). Any GGUF works:
#   gguf = "models/your-model.gguf"
model writer {
  gguf        = builtin("smollm2-135m")
  mode        = chat
  temperature = 0.9
  top_p       = 0.95
  max_tokens  = 128
  seed        = 1
}
'''


# Both scaffolds: 128 tokens against a word bound of 200 or 300 would drop every long row as
# token_cap; a row that runs into the cap keeps its whole sentences instead.
_PARSE = ("  # A row that runs into max_tokens ends mid-sentence: keep its whole sentences (token_cap,\n"
          "  # docs/language.md).\n"
          "  parse {\n    truncated = sentence\n  }\n\n")


def _header(d: DataSummary, what: str, out: str, param: str) -> str:
    return (f"# A {what} recipe scaffolded by `synthc init` from {d.path} ({d.rows} rows, {d.format}).\n"
            f"#   synthc check {out}       # every mistake gets a coded diagnostic\n"
            f"#   synthc build {out}       # then: --set {param}=100 for a real run\n")


def _sources(d: DataSummary, out: str, labelled: bool) -> tuple[str, str, str]:
    """(source blocks, train source name, held-out source name)."""
    role = "few-shot demos and the label oracle's training data" if labelled else "the questions to answer"
    lab = f'  label = "{d.label}"\n' if labelled and d.label else ""
    text = f'  text  = {_quote(d.text)}\n' if d.text != "text" else ""
    path = _rel(d.path, out)
    if d.split:
        blocks = (f'# Real rows: {role}.\n'
                  f'source train {{\n  path  = {_quote(path)}\n{text}{lab}  split = "train"\n}}\n\n'
                  f'# Held-out rows of the same file, for evaluation.\n'
                  f'source test {{\n  path  = {_quote(path)}\n{text}{lab}  split = {_quote(d.test_split)}\n}}\n')
        return blocks, "train", "test"
    blocks = (f"# Real rows: {role}.\n"
              f"source train {{\n  path  = {_quote(path)}\n{text}{lab}}}\n")
    if d.heldout:
        blocks += (f"\n# Held-out rows (found beside the data file), for evaluation.\n"
                   f"source test {{\n  path  = {_quote(_rel(d.heldout, out))}\n{text}{lab}}}\n")
        return blocks, "train", "test"
    return blocks, "train", "train"


def _classification(d: DataSummary, out: str, stem: str) -> str:
    width = max(len(_key(lb)) for lb, _ in d.counts)
    labels = "\n".join(f"  {_key(lb).ljust(width)} = {_quote('labelled ' + lb)}  # {n} rows in the data"
                       for lb, n in d.counts)
    sources, train, test = _sources(d, out, True)
    caution = ("" if test != train else
               "  # No held-out split was found, so this compares against the training rows themselves\n"
               "  # (flattering); point `real` at a test file when you have one.\n")
    return (_header(d, "classification", out, "per_label") + "\n"
            "param per_label = 4  # rows generated per label and variant; override with --set per_label=100\n"
            "param shots = 3  # few-shot demos per prompt\n" + _MODEL + "\n"
            "# Each label and the words the model sees for it ({{ verbalization }}). Describe each in a\n"
            "# few words: the description matters more than anything else in the recipe.\n"
            f"labels {stem_name(stem)}_labels {{\n{labels}\n}}\n\n" + sources + "\n"
            f"task {stem_name(stem)} {{\n"
            "  kind      = classification\n"
            f"  labels    = {stem_name(stem)}_labels\n"
            "  model     = writer\n"
            f"  seeds     = {train}\n"
            "  per_label = per_label\n"
            '  prompt    = "Write one new, realistic text that is {{ verbalization }}. Reply with the text only."\n\n'
            "  output {\n    text = string(words = 3..200)\n  }\n\n" + _PARSE +
            "  # Drop near-duplicates, rows that copy an 8-word span of the real data, and rows a\n"
            "  # classifier trained on the real data scores below what 90 % of real rows of their label\n"
            "  # score (calibrated per label; docs/language.md).\n"
            "  filter {\n    dedupe = near(0.9)\n\n"
            f"    near_copy {{\n      of = [seeds]\n    }}\n\n"
            f"    label_oracle {{\n      trained_on = {train}\n      calibrate  = 0.1\n    }}\n  }}\n\n"
            "  # Zero-shot: the prompt above as is.\n"
            "  variant zero_shot {}\n\n"
            "  # Few-shot: real same-label rows as demos (Li et al. 2023: imitate, do not copy).\n"
            "  variant few_shot {\n"
            '    prompt = """\n'
            "      Here are some real texts that are {{ verbalization }}:\n\n"
            "      {{ demos }}\n\n"
            "      Write one new text of the same kind. Imitate the examples, but do not copy or rewrite them. Reply with the text only.\n"
            '    """\n\n'
            "    fewshot {\n      shots      = shots\n      from       = seeds\n      same_label = true\n"
            '      demo       = "- {{ example.text }}"\n      separator  = "\\n"\n    }\n  }\n}\n\n'
            "# One JSONL file per variant, with per-row provenance, a manifest and a dataset card.\n"
            f"export {stem_name(stem)} {{\n  task = {stem_name(stem)}\n  path = \"out/{stem}/{{variant}}.jsonl\"\n}}\n\n"
            "# Diversity, fidelity and a student trained on each variant, tested on real rows.\n"
            f"evaluate {stem_name(stem)} {{\n" + caution +
            f"  task    = {stem_name(stem)}\n  real    = {test}\n  train   = {train}\n"
            "  metrics = [self_bleu, distinct, label_preservation, student]\n"
            "  seeds   = 3\n"
            f'  path    = "out/{stem}/eval"\n}}\n')


def _qa(d: DataSummary, out: str, stem: str) -> str:
    sources, train, _ = _sources(d, out, False)
    name = stem_name(stem)
    fields = f'  fields = ["{d.answer}"]\n' if d.answer else ""
    if fields:
        sources = sources.replace("source train {\n", "source train {\n" + fields, 1)
    few = ("  # Few-shot: real question/answer pairs as demos.\n"
           "  variant few_shot {\n"
           '    prompt = """\n'
           "      Here are questions with good answers:\n\n"
           "      {{ demos }}\n\n"
           "      Write an answer to this question:\n"
           "      {{ seed.text }}\n"
           '    """\n\n'
           "    fewshot {\n      shots = 2\n      from  = seeds\n"
           f'      demo  = "Question: {{{{ example.text }}}}\\nAnswer: {{{{ example.{d.answer} }}}}"\n    }}\n  }}\n'
           ) if d.answer else (
           "  # With context: the same question, asked of an expert.\n"
           "  variant expert {\n"
           '    system = "You are an expert who answers questions accurately and concisely."\n'
           "  }\n")
    return (_header(d, "question-answering", out, "questions") + "\n"
            "param questions = 4  # questions answered per variant; override with --set questions=100\n" + _MODEL + "\n"
            + sources + "\n"
            "# One answer per sampled question; rows are (query, positive) pairs for training a retriever.\n"
            f"task {name} {{\n"
            "  kind  = qa_pairs\n  model = writer\n"
            f"  seeds = {train}\n"
            "  total = questions\n"
            '  prompt = "Write an answer to the given question:\\n{{ seed.text }}"\n\n'
            "  output {\n    text = string(words = 5..300)\n  }\n\n" + _PARSE +
            '  pairs {\n    query    = "{{ seed.text }}"\n    positive = "{{ output.text }}"\n  }\n\n'
            "  filter {\n    dedupe = near(0.9)\n  }\n\n"
            "  # Zero-shot: the prompt above as is.\n  variant zero_shot {}\n\n" + few + "}\n\n"
            f"export {name} {{\n  task = {name}\n  path = \"out/{stem}/{{variant}}.jsonl\"\n}}\n\n"
            f"evaluate {name} {{\n  task    = {name}\n  real    = {train}\n"
            "  metrics = [self_bleu, distinct]\n"
            f'  path    = "out/{stem}/eval"\n}}\n')


def _no_data(stem: str) -> str:
    name = stem_name(stem)
    return ("# A zero-shot classification recipe scaffolded by `synthc init` (no data given).\n"
            "# Scaffold from your own labelled file instead, to get few-shot demos, a label oracle and\n"
            "# an evaluation:  synthc init data/train.jsonl\n\n"
            "param per_label = 4  # rows generated per label; override with --set per_label=100\n" + _MODEL + "\n"
            "# Your labels and the words the model sees for each ({{ verbalization }}).\n"
            f"labels {name}_labels {{\n"
            '  positive = "a positive review of a product"\n'
            '  negative = "a negative review of a product"\n}\n\n'
            f"task {name} {{\n  labels    = {name}_labels\n  model     = writer\n  per_label = per_label\n"
            '  prompt    = "Write one new, realistic text that is {{ verbalization }}. Reply with the text only."\n\n'
            "  filter {\n    dedupe = near(0.9)\n  }\n}\n\n"
            f"export {name} {{\n  task = {name}\n  path = \"out/{stem}/{name}.jsonl\"\n}}\n")


def stem_name(stem: str) -> str:
    """A declaration name from the output file's name (`my-recipe` -> `my_recipe`)."""
    name = re.sub(r"\W+", "_", stem).strip("_") or "recipe"
    return name if _NAME.match(name) else f"r_{name}"


def write_recipe(out: str, text: str) -> None:
    """Create `out` with `text`, atomically, refusing to replace anything (E505)."""
    folder = os.path.dirname(os.path.abspath(out))
    if os.path.lexists(out):
        raise _error("E505", f"{out} already exists; `synthc init` never overwrites a file",
                     help="choose another name with --out, or remove the file")
    tmp = os.path.join(folder, f".{os.path.basename(out)}.synthc-init")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.link(tmp, out)  # fails if `out` appeared meanwhile: never a replace
    except FileExistsError:
        raise _error("E505", f"{out} already exists; `synthc init` never overwrites a file",
                     help="choose another name with --out, or remove the file") from None
    except OSError as exc:
        raise _error("E505", f"cannot write {out}: {exc.strerror}", help="choose a writable --out path") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
