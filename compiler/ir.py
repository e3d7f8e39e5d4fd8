"""The typed IR: semantics, not syntax. Defaults applied, references resolved to names, paths
normalised relative to the main spec's directory. Every node keeps `origin` (a Span) so runtime
errors point at the spec line that caused them; origins are excluded from equality and from
plan JSON so that reordering declarations changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synthc.compiler.paths import Policy
from synthc.compiler.source import NO_SPAN, Span

_S = dict(frozen=True, slots=True, kw_only=True)


def _origin() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False)  # type: ignore[no-any-return]


@dataclass(**_S)
class Template:
    text: str
    origin: Span = _origin()


@dataclass(**_S)
class Endpoint:
    """A model served over HTTP (OpenAI-compatible). `api_key_env` names a variable, never a key;
    a key written in the URL (`http://user:KEY@host/v1`) is split off into `userinfo`, which no
    dump, lock, manifest or message shows (compare=False, repr=False)."""

    url: str  # base URL ending before /chat/completions, e.g. http://127.0.0.1:8080/v1; no userinfo
    served_model: str | None  # None: the first model the server lists
    dialect: str  # a name in compiler/dialects.py: llama_cpp | vllm | sglang | ollama | openai
    api_key_env: str | None
    timeout: float
    concurrency: int
    adaptive: bool
    retries: int
    userinfo: str = field(default="", compare=False, repr=False)  # `user:password`, sent as basic auth


@dataclass(**_S)
class Model:
    name: str
    gguf_kind: str  # "builtin" | "path" | "endpoint"
    gguf: str  # builtin name, or a path relative to the spec directory ("" for an endpoint)
    mode: str  # "chat" | "completion"
    temperature: float
    top_p: float
    max_tokens: int
    stop: tuple[str, ...]
    seed: int
    context: int
    threads: int | None
    batch: int | None = None  # sequences per forward pass; None = the backend chooses
    endpoint: Endpoint | None = None
    # Tokens of a span an output may not hold twice (the decoder bans the token that would repeat
    # one); left out of IR dumps while unset.
    no_repeat_ngram: int | None = field(default=None, metadata={"omit_none": True})
    # From this output token on, sentence-ending tokens gain logit at each step (runtime: WRAP_UP_STEP).
    wrap_up: int | None = field(default=None, metadata={"omit_none": True})
    origin: Span = _origin()
    path_origin: Span = _origin()  # the `gguf` value (a path's diagnostics point here)

    @property
    def where(self) -> str:
        """Where the weights are: builtin name, file path or endpoint URL (for summaries)."""
        return self.endpoint.url if self.endpoint is not None else self.gguf


@dataclass(**_S)
class Label:
    name: str
    verbalization: str


@dataclass(**_S)
class LabelSet:
    name: str
    labels: tuple[Label, ...]
    origin: Span = _origin()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(lb.name for lb in self.labels)


@dataclass(**_S)
class Sample:
    per_label: int | None
    total: int | None
    strategy: str  # "balanced" | "stratified"
    seed: int


@dataclass(**_S)
class Source:
    name: str
    path: str
    format: str  # "jsonl" | "csv" | "parquet"
    id: str
    text: str
    label: str | None
    fields: tuple[str, ...]
    split: str | None
    sample: Sample | None
    config: str | None = None  # hf: the dataset configuration
    origin: Span = _origin()
    path_origin: Span = _origin()  # the `path` value


@dataclass(**_S)
class Corpus:
    name: str
    path: str
    format: str
    id: str
    text: str
    fields: tuple[str, ...]
    split: str | None
    render: Template
    min_tokens: int
    max_tokens: int
    truncate_at: str
    limit: int | None
    config: str | None = None  # hf: the dataset configuration
    origin: Span = _origin()
    path_origin: Span = _origin()  # the `path` value


@dataclass(**_S)
class Retriever:
    name: str
    corpus: str
    method: str  # "bm25" | "dense" | "random"
    k1: float
    b: float
    embedder: str
    seed: int
    similarity: str = "auto"  # "auto" | "dense" | "tfidf"
    origin: Span = _origin()


@dataclass(**_S)
class Derived:
    name: str
    fn: str  # "history_top" | "history_count" | "value"
    column: str | None
    k: int
    fallback: tuple[str, ...] = ()  # history_top: used when the user has no earlier rows


@dataclass(**_S)
class Persona:
    name: str
    source: str
    user: str
    time: str
    derived: tuple[Derived, ...]
    origin: Span = _origin()


@dataclass(**_S)
class FewShot:
    shots: int
    source: str  # "seeds" | "retrieved"
    same_label: bool
    replace: bool
    exclude_self: bool
    demo: Template
    separator: str
    shared: int  # demos a block of rows shares, first in each row's order (0: independent draws)
    block: int  # rows of a label (by index) per block
    origin: Span = _origin()


@dataclass(**_S)
class Retrieve:
    retriever: str
    query: Template
    query_tokens: int
    k: int
    ranks: tuple[int, int]
    similarity: tuple[float, float]
    demo_ranks: tuple[int, int] | None
    demo_similarity: tuple[float, float]
    per_label: int | None
    total: int | None
    seed: int
    # The variant's label oracle scores each input document before planning (runtime/steps/generate.py):
    # None when off, so the IR (and every key over it) of a recipe without it is what it was.
    screen: bool | None = field(default=None, metadata={"omit_none": True})
    origin: Span = _origin()


@dataclass(**_S)
class Conversation:
    diversity_prompt: str
    every: int
    reset_after: int
    origin: Span = _origin()


@dataclass(**_S)
class OutputField:
    name: str
    type: str  # string label int float bool regex choice list object
    args: tuple[tuple[str, Any], ...] = ()
    fields: tuple[OutputField, ...] = ()  # object members


def constraint_kind(types: tuple[str, ...], template: bool = False) -> str:
    """How an output with these top-level field types is generated: the first registered output
    kind that claims it (compiler/outputs/: a lone label/choice is a `select`, a lone regex a
    `regex`, a lone string free `text`, a `template` a template, anything else a `json` object)."""
    from synthc.compiler.outputs import kind_for  # the registry reads the IR's types; import late

    return kind_for(types, template).name


@dataclass(**_S)
class TemplatePart:
    """A run of fixed text (`field` empty) or the place of output field `field` in a template."""

    text: str = ""
    field: str = ""


@dataclass(**_S)
class Output:
    fields: tuple[OutputField, ...]
    origin: Span = _origin()
    # Fixed text and fields generated as one (compiler/outputs/template.py); absent from older dumps.
    template: tuple[TemplatePart, ...] | None = field(default=None, metadata={"omit_none": True})

    @property
    def constraint_kind(self) -> str:
        return constraint_kind(tuple(f.type for f in self.fields), self.template is not None)

    @property
    def structured(self) -> bool:
        """Fields generated under a constraint (JSON object, select, regex, template), not free text."""
        return self.constraint_kind != "text"

    @property
    def text_field(self) -> str:
        strings = [f.name for f in self.fields if f.type == "string"]
        return "text" if "text" in strings else (strings[0] if strings else self.fields[0].name)


@dataclass(**_S)
class Parse:
    prefix: str | None
    split: bool
    strip_quotes: bool
    reject: tuple[str, ...]
    # A free-text row whose generation stopped at the token cap is cut mid-sentence: `drop` it
    # (reason `token_cap`) or `keep` it.
    truncated: str  # drop | keep | sentence
    # Text the answer starts with, sent with the request (chat: a prefilled assistant turn) for the
    # model to continue: it cannot open with a lead-in of its own ("Here is a summary:"). The
    # completion is what follows it.
    prefill: str | None = None
    origin: Span = _origin()


@dataclass(**_S)
class Oracle:
    trained_on: str
    keep: float | None  # an absolute threshold, or
    calibrate: float | None  # per label: this quantile of held-out real rows' scores (exactly one is set)
    min_kept: float  # never keep fewer than this fraction of a label's rows (and never none)
    drop: bool
    origin: Span = _origin()


@dataclass(**_S)
class NearCopy:
    of: tuple[str, ...]  # source names ("seeds" already resolved to the task's seed source)
    ngram: int
    origin: Span = _origin()


@dataclass(**_S)
class Fluency:
    min_logprob: float  # mean per-token log-probability of the completion under its generating model
    origin: Span = _origin()


@dataclass(**_S)
class Judge:
    """A model's score of each row on `scale`; rows whose score fails `keep_op keep_score` are dropped."""

    model: str  # the model block that scores
    rubric: str
    scale: tuple[int, int]  # inclusive: the answers the judge is constrained to
    keep_op: str  # >= > <= < ==
    keep_score: int
    origin: Span = _origin()

    def keeps(self, score: int) -> bool:
        from synthc.compiler.filters.judge import compare

        return compare(self.keep_op, score, self.keep_score)


@dataclass(**_S)
class Cartography:
    keep: float
    epochs: int
    origin: Span = _origin()


@dataclass(**_S)
class Filter:
    words: tuple[int, int] | None
    chars: tuple[int, int] | None
    dedupe: str  # "exact" | "near" | "none"
    near_threshold: float
    labels: tuple[str, ...] | None
    oracle: Oracle | None
    cartography: Cartography | None
    near_copy: NearCopy | None = None
    fluency: Fluency | None = None
    # Left out of IR dumps while unset (compiler/dump.py), so recipes without a judge dump as before.
    judge: Judge | None = field(default=None, metadata={"omit_none": True})
    origin: Span = _origin()


@dataclass(**_S)
class Pairs:
    query: Template
    positive: Template
    negatives_from: str | None
    negatives: int
    negatives_k: int
    origin: Span = _origin()


@dataclass(**_S)
class Once:
    """A value generated once per distinct value of a row field (`per`) and shared by every row with
    that value; prompts read it as `{{ once.NAME }}` (runtime/engine/groups.py)."""

    name: str
    per: tuple[str, ...]  # the row field, as in templates: ("persona", "user"), ("label",)
    prompt: Template  # rendered with `key` (the field's value) and `param` only
    max_tokens: int
    origin: Span = _origin()


@dataclass(**_S)
class Variant:
    task: str
    name: str
    kind: str  # "classification" | "qa_pairs"
    labels: str | None
    model: str
    seeds: str | None
    per_label: int | None
    total: int | None
    persona: str | None
    system: Template | None
    prompt: Template
    seed: int
    vary: tuple[tuple[str, tuple[Any, ...]], ...]
    fewshot: FewShot | None
    retrieve: Retrieve | None
    retrieve_shared: bool  # the retrieve block is the task's own (shared by its variants)
    conversation: Conversation | None
    output: Output
    parse: Parse
    filter: Filter
    pairs: Pairs | None
    attempts: int = 4  # request budget per label: attempts × the label's wanted rows
    origin: Span = _origin()
    # None without `once` blocks, so dumps of recipes without them stay as they were.
    once: tuple[Once, ...] | None = field(default=None, metadata={"omit_none": True})

    @property
    def id(self) -> str:
        return f"{self.task}.{self.name}"


@dataclass(**_S)
class Task:
    name: str
    kind: str
    variants: tuple[Variant, ...]
    origin: Span = _origin()


@dataclass(**_S)
class Export:
    name: str
    task: str
    variants: tuple[str, ...]
    path: str
    format: str
    origin: Span = _origin()


@dataclass(**_S)
class Evaluate:
    name: str
    task: str
    variants: tuple[str, ...]
    real: str
    train: str | None
    metrics: tuple[str, ...]
    students: tuple[str, ...]
    seeds: int
    embedder: str
    self_bleu_sample: int | None
    gold_plus_synthetic: bool
    path: str
    gold_k: int = 10
    collection: str | None = None
    relevant: str | None = None
    time: str | None = None
    candidates: int = 100
    epochs: int = 1
    queries: int | None = None
    origin: Span = _origin()


@dataclass(**_S)
class Program:
    params: tuple[tuple[str, Any], ...]
    models: tuple[Model, ...]
    label_sets: tuple[LabelSet, ...]
    sources: tuple[Source, ...]
    corpora: tuple[Corpus, ...]
    retrievers: tuple[Retriever, ...]
    personas: tuple[Persona, ...]
    tasks: tuple[Task, ...]
    exports: tuple[Export, ...]
    evaluations: tuple[Evaluate, ...]
    root: str = field(default=".", compare=False)  # the main spec's directory (paths are relative to it)
    policy: Policy | None = field(default=None, compare=False)  # what the build may touch (compiler/paths.py)

    def model(self, name: str) -> Model:
        return next(m for m in self.models if m.name == name)

    def label_set(self, name: str) -> LabelSet:
        return next(x for x in self.label_sets if x.name == name)

    def source(self, name: str) -> Source:
        return next(x for x in self.sources if x.name == name)

    def corpus(self, name: str) -> Corpus:
        return next(x for x in self.corpora if x.name == name)

    def retriever(self, name: str) -> Retriever:
        return next(x for x in self.retrievers if x.name == name)

    def persona(self, name: str) -> Persona:
        return next(x for x in self.personas if x.name == name)

    def task(self, name: str) -> Task:
        return next(x for x in self.tasks if x.name == name)

    def variants(self) -> list[Variant]:
        return [v for t in self.tasks for v in t.variants]
