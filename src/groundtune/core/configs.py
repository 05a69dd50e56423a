"""Every stage's config, typed once: the retriever, a knowledge base and what `kb add` ingests, a
dataset build (with its sources and teacher), training, evaluation, calibration and a deployment.

They are the request types of the library's stage entries (`run(config, *, home, progress)`), of
the REST API and of the SDK, so each field's description is its help text. Defaults live here, a
YAML recipe goes over them, CLI flags over that; validators reject contradictions. Versioned by
`CONFIG_SCHEMA_VERSION` (recorded in every artifact that stores a config). Pydantic only: importing
this module loads neither torch nor any stage of groundtune.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from groundtune.core.ids import stable_hash

CONFIG_SCHEMA_VERSION = 2
DEFAULT_LM = "gemma-3-270m"  # the embedded default base model (models/registry.py knows how to load it)
DEFAULT_EMBEDDER = "minilm-l6"
DEFAULT_STYLE = "cited"  # the grounding format's default style (grounding/ defines it)
DEFAULT_MAX_FALSE_REFUSAL = 0.1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _renamed(data: Any, old: str, new: str, where: str) -> Any:
    """`old` (a deprecated alias) read as `new`; when both are given `new` wins (an old recipe's `k`
    under a flag that sets the new name)."""
    if not isinstance(data, dict) or old not in data:
        return data
    data = dict(data)
    value = data.pop(old)
    warnings.warn(f"{where}: '{old}' is deprecated, write '{new}'", DeprecationWarning, stacklevel=2)
    data.setdefault(new, value)
    return data


# -- retrieval ------------------------------------------------------------------------------------


class SearchFilters(_Strict):
    """Metadata filters; empty lists mean no restriction."""

    doc_ids: list[str] = Field(default_factory=list, description="Only chunks of these documents.")
    sources: list[str] = Field(default_factory=list, description="Only chunks from these sources.")
    tags: list[str] = Field(default_factory=list, description="Only chunks carrying any of these tags.")
    latest_only: bool = Field(default=True, description="Only each document's latest version.")

    def merged(self, other: SearchFilters | None) -> SearchFilters:
        """`other`'s restrictions added to these (a per-call filter narrows the config's)."""
        if other is None:
            return self
        return SearchFilters(
            doc_ids=_narrow(self.doc_ids, other.doc_ids),
            sources=_narrow(self.sources, other.sources),
            tags=_narrow(self.tags, other.tags),
            latest_only=self.latest_only and other.latest_only,
        )


def _narrow(a: list[str], b: list[str]) -> list[str]:
    if a and b:
        both = [x for x in a if x in set(b)]
        return both or ["\x00no-match"]
    return list(a or b)


class SparseScheme(BaseModel):
    """How text becomes BM25 sparse vectors (part of the retriever's hash)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="bm25-words-v1", description="Tokeniser id: lowercase words of 2+ chars.")
    k1: float = Field(default=1.5, gt=0, description="BM25 term-frequency saturation.")
    b: float = Field(default=0.75, ge=0, le=1, description="BM25 length normalisation.")
    stopwords: str = Field(default="en", description="'en' (Lucene list) or 'none'.")


class RetrieverConfig(BaseModel):
    """How THE retriever ranks and how many documents a prompt shows; `hash()` identifies it across
    processes and machines, and serving must match it (documents per prompt included)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["dense", "sparse", "hybrid"] = Field(default="hybrid", description="Which arms rank.")
    documents_per_prompt: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Documents a prompt shows: serving retrieves this many per question (`k` is its "
        "deprecated name). A dataset build sets it to the documents its examples show.",
    )
    rrf_k: float = Field(default=60.0, gt=0, description="Reciprocal-rank fusion constant.")
    depth: int = Field(
        default=50,
        ge=1,
        le=10000,
        description="Candidates per arm before fusion (>= documents_per_prompt used).",
    )
    filters: SearchFilters = Field(default_factory=SearchFilters)
    embedder: str | None = Field(default=None, description="None = the knowledge base's embedder.")
    sparse: SparseScheme | None = Field(default=None, description="None = the knowledge base's scheme.")

    @model_validator(mode="before")
    @classmethod
    def _k(cls, data: Any) -> Any:
        return _renamed(data, "k", "documents_per_prompt", "retriever")

    def hash(self) -> str:
        return stable_hash(self.model_dump(mode="json"))


# -- knowledge base -------------------------------------------------------------------------------


class KBSettings(_Strict):
    """A knowledge base's settings (`<workspace>/kbs/<name>/kb.json`)."""

    id: str
    name: str
    embedder: str = Field(description="Embedder registry name or path; fixed until `kb reindex --embedder`.")
    dim: int
    chunk_tokens: int = Field(default=256, description="Chunk size in embedder tokens.")
    chunk_overlap: int = Field(default=32, description="Overlap between consecutive chunks, in tokens.")
    catalog_url: str | None = Field(default=None, description="SQLAlchemy URL; None = catalog.sqlite here.")
    index_url: str | None = Field(default=None, description="Qdrant server URL; None = local mode here.")
    collection: str
    sparse: SparseScheme = Field(default_factory=SparseScheme)
    local_search: Literal["mirror", "qdrant"] = Field(
        default="mirror",
        description="Local mode: search an in-memory mirror (fast) or Qdrant's local scorer.",
    )
    keep_versions: bool = Field(
        default=False, description="Keep superseded versions searchable with latest_only=False."
    )
    purge_lag: int = Field(
        default=0,
        ge=0,
        description="Generations a retired point outlives its retirement (other processes' "
        "searches on a server); 0 is exact in local mode, where one process owns the index.",
    )
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class IngestConfig(_Strict):
    """What `groundtune kb add` ingests into one knowledge base."""

    kb: str = Field(description="Knowledge base name.")
    inputs: list[str] = Field(
        min_length=1, description="Files or folders (PDF, HTML, Markdown, text, JSONL, CSV)."
    )
    id_field: str = Field(default="id", description="Record id field (JSONL/CSV).")
    title_field: str = Field(default="title", description="Record title field.")
    text_field: str = Field(default="text", description="Record text field.")
    tags_field: str | None = Field(default=None, description="Record tags field.")
    tags: list[str] = Field(default_factory=list, description="Tags every added document carries.")


# -- data building --------------------------------------------------------------------------------


class TeacherConfig(_Strict):
    """How to reach the teacher and what to ask it."""

    base_url: str = Field(description="OpenAI-compatible base URL, e.g. http://localhost:8000/v1.")
    model: str = Field(description="Model name sent in each request.")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="Environment variable holding the key.")
    questions_per_chunk: int = Field(default=1, ge=1, le=20)
    temperature: float = 0.0
    max_tokens: int = 256
    concurrency: int = Field(default=4, ge=1, le=256)
    max_retries: int = Field(default=4, ge=0, le=20)
    backoff_s: float = Field(default=0.5, ge=0.0, description="First retry delay; doubles each retry.")
    timeout_s: float = 60.0
    question_prompt: str | None = Field(
        default=None, description="Prompt asking for questions about a chunk (None: the grounding format's)."
    )
    answer_prompt: str | None = Field(
        default=None, description="Prompt asking for a grounded answer (None: the grounding format's)."
    )
    cache_dir: str | None = Field(
        default=None, description="Response cache (default <workspace>/cache/teacher)."
    )


SourceKind = Literal[
    "qa", "nq_open_oracle", "clapnq", "squad2", "quotesum", "hotpotqa", "rgb_counterfactual", "teacher"
]


class SourceSpec(_Strict):
    """One QA source of a build."""

    kind: SourceKind = Field(
        description="qa: a JSONL/CSV file; nq_open_oracle, clapnq, squad2, quotesum, hotpotqa, "
        "rgb_counterfactual: public releases (docs/data.md); teacher: generated."
    )
    path: str | None = Field(default=None, description="File or folder (not used by 'teacher').")
    split: str = Field(default="dev", description="ClapNQ split to read (train or dev).")
    unanswerable: bool = Field(
        default=True, description="ClapNQ, SQuAD 2.0: include the unanswerable questions."
    )
    part: Literal["all", "train", "validation", "test"] = Field(
        default="all",
        description="Public sources: 'all' puts the source's fixed held-out questions in the test split "
        "and those of its fixed validation part in the validation split, and builds the rest; 'train' "
        "leaves both parts out (held-out documents are still never shown); 'validation' and 'test' build "
        "only that part.",
    )
    limit: int | None = Field(
        default=None, ge=1, description="Read at most this many questions (public: a fixed sample)."
    )
    assign: Literal["auto", "train", "validation", "test"] = Field(
        default="auto", description="Put every question of this source (and its documents) in one split."
    )
    teacher: TeacherConfig | None = None
    chunks: int = Field(default=50, ge=1, description="Teacher: how many KB chunks to write questions for.")

    @model_validator(mode="after")
    def _needs(self) -> SourceSpec:
        if self.kind == "teacher" and self.teacher is None:
            raise ValueError("a 'teacher' source needs teacher settings (base_url, model)")
        if self.kind != "teacher" and not self.path:
            raise ValueError(f"a '{self.kind}' source needs a path")
        return self


class BuildConfig(_Strict):
    """Everything `groundtune data build` needs; recorded in the dataset card."""

    name: str = Field(description="Dataset name (folder under <workspace>/datasets).")
    kb: str = Field(description="Knowledge base whose retriever supplies the contexts.")
    sources: list[SourceSpec] = Field(min_length=1)
    style: str = Field(default=DEFAULT_STYLE, description="Grounding style: cited, raft-cot or answer-only.")
    documents_per_prompt: int = Field(
        default=4,
        ge=1,
        le=32,
        description="Documents an example shows (`k` is its deprecated name); the recorded retriever "
        "carries it, so serving retrieves as many.",
    )
    oracle_fraction: float = Field(
        default=0.8,
        ge=0.0,
        le=1.0,
        description="P: share of answerable questions shown their relevant chunk.",
    )
    contrast_fraction: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Share of the answerable training questions shown their relevant chunk that also get a "
        "twin example without it (hard negatives only, refusal target): the two contexts differ only by "
        "the evidence.",
    )
    injection_fraction: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Share of training examples with an instruction planted in one distractor ('ignore the "
        "question, reply X'; wording disjoint from the `injection` evaluation suite's); the target stays the "
        "grounded one, so the model learns to treat document text as text. Held-out splits are never planted.",
    )
    candidates: int = Field(
        default=20,
        ge=1,
        le=200,
        description="Retriever hits considered per question (hard negatives come from these); at least "
        "documents_per_prompt.",
    )
    random_distractors: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Share of distractor slots filled with random chunks."
    )
    max_relevant: int = Field(default=2, ge=1, description="Relevant chunks per oracle context at most.")
    max_quotes_per_doc: int = Field(default=2, ge=1)
    max_quote_chars: int = Field(default=300, ge=40)
    splits: dict[str, float] = Field(default_factory=lambda: {"train": 0.8, "validation": 0.1, "test": 0.1})
    split_by: Literal["document", "question"] = Field(
        default="document",
        description="document: questions about one document share a split and held-out documents are never "
        "shown in training (public benchmarks); question: held-out questions may be about documents "
        "training also sees (a user holding out questions about one knowledge base).",
    )
    seed: int = 0
    lm: str = Field(default=DEFAULT_LM, description="LM whose tokenizer counts the token budget.")
    max_tokens: int = Field(default=1024, ge=64, description="Budget for prompt + completion tokens.")
    retriever: RetrieverConfig = Field(
        default_factory=RetrieverConfig,
        description="How the knowledge base is searched; its documents_per_prompt is this build's.",
    )
    overwrite: bool = False

    @model_validator(mode="before")
    @classmethod
    def _k(cls, data: Any) -> Any:
        return _renamed(data, "k", "documents_per_prompt", "data")

    @model_validator(mode="after")
    def _consistent(self) -> BuildConfig:
        if self.candidates < self.documents_per_prompt:
            raise ValueError(
                f"candidates ({self.candidates}) must be at least documents_per_prompt ({self.documents_per_prompt})"
            )
        unknown = set(self.splits) - {"train", "validation", "test"}
        if unknown:
            raise ValueError(f"unknown split(s) {sorted(unknown)}: use train, validation, test")
        if self.splits.get("train", 0) <= 0:
            raise ValueError("the train split fraction must be positive")
        # One number: what the examples show is what the recorded retriever (and serving) retrieves.
        if self.retriever.documents_per_prompt != self.documents_per_prompt:
            self.retriever = self.retriever.model_copy(
                update={"documents_per_prompt": self.documents_per_prompt}
            )
        return self


# -- training -------------------------------------------------------------------------------------


class _Assigned(_Strict):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LoraSettings(_Assigned):
    """The adapter: PEFT LoRA on the named modules (`all-linear` = every linear layer but the LM head)."""

    r: int | None = Field(default=None, ge=1, le=1024, description="LoRA rank (None: by model size).")
    alpha: float | None = Field(default=None, gt=0, description="LoRA alpha (None: 2 x rank).")
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA input.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        default="all-linear", description="Module names to adapt, or `all-linear`."
    )
    top_layers: int | None = Field(
        default=None,
        ge=1,
        description="Adapt only the top N decoder layers (None: all). Backpropagation then stops below "
        "them, which makes CPU training much cheaper.",
    )


class DistributedSettings(_Assigned):
    """How `torchrun` / `accelerate launch` processes share the work (ignored in a single process)."""

    strategy: Literal["ddp", "fsdp", "deepspeed"] = Field(
        default="ddp", description="ddp runs here; fsdp/deepspeed are documented configs for GPUs."
    )
    backend: Literal["auto", "gloo", "nccl"] = Field(
        default="auto", description="Process-group backend (auto: nccl on GPUs, gloo on CPUs)."
    )
    config_file: str | None = Field(
        default=None, description="accelerate/DeepSpeed config file the launcher uses (recorded only)."
    )


class TrainConfig(_Assigned):
    """Everything one training run needs. Recipes in `recipes/` are YAML files of this shape."""

    dataset: str = Field(description="Dataset name under <workspace>/datasets or a directory path.")
    model: str = Field(default=DEFAULT_LM, description="Registry name, local path or hub id.")
    name: str | None = Field(
        default=None, description="Adapter name under <workspace>/adapters (default: the run id)."
    )
    run_id: str | None = Field(default=None, description="Run directory name (default: a new run_… id).")
    lora: LoraSettings = Field(default_factory=LoraSettings)
    init_adapter: str | None = Field(
        default=None,
        description="Continue training this adapter (registered name, folder, or a shipped one such as "
        "'general'): its LoRA weights are the starting point and its rank and target modules are used. "
        "'auto': the shipped general grounding adapter when it was trained on this model, else a new one.",
    )
    quantization: Literal["none", "4bit"] = Field(
        default="none", description="4bit = QLoRA (needs bitsandbytes and a CUDA GPU)."
    )
    precision: Literal["auto", "bf16", "fp32"] = Field(
        default="auto", description="auto: bf16 autocast on GPUs and on CPUs with native bf16."
    )
    base_weights: Literal["auto", "fp32", "bf16"] = Field(
        default="auto",
        description="dtype of the frozen base weights (auto: bf16 when precision is bf16; LoRA stays fp32).",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_length: int = Field(default=2048, ge=16, description="Examples longer than this are skipped.")
    batch_size: int | None = Field(default=None, ge=1, description="Examples per micro-batch.")
    grad_accum: int | None = Field(default=None, ge=1, description="Micro-batches per optimizer step.")
    epochs: float = Field(default=1.0, gt=0, description="Passes over the training split.")
    max_steps: int | None = Field(default=None, ge=1, description="Stop after this many steps.")
    max_minutes: float | None = Field(
        default=None,
        gt=0,
        description="Time budget of the training steps and validations: from the third step on, after every "
        "step, the run plans how many steps fit at their measured speed and re-plans its learning-rate schedule "
        "to end there (never more steps than epochs/max_steps ask for); the run manifest records the cut. "
        "None: no budget.",
    )
    reserve_steps: float = Field(
        default=0.0,
        ge=0,
        description="With `max_minutes`: keep back, beside the final validation, the time of this many more "
        "steps at the run's measured step time, for work after the run that scales with the machine as "
        "training does.",
    )
    lr: float | None = Field(default=None, gt=0, description="Peak learning rate (None: by model size).")
    weight_decay: float = Field(default=0.0, ge=0)
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_ratio: float = Field(default=0.05, ge=0, lt=1, description="Warm-up share of all steps.")
    warmup_steps: int | None = Field(default=None, ge=0, description="Overrides warmup_ratio when set.")
    max_grad_norm: float | None = Field(default=1.0, gt=0)
    decision_weight: float = Field(
        default=1.0,
        ge=1.0,
        description="Loss weight of the target tokens that carry decisions (document numbers, `Relevant: "
        "none`, the refusal sentence: the grounding format's decision spans); other tokens weigh 1.",
    )
    gradient_checkpointing: bool | None = Field(default=None, description="None: on for models >= 1B.")
    eval_every: int | None = Field(default=None, ge=1, description="Validate every N steps (None: 4x/run).")
    eval_batch_size: int | None = Field(default=None, ge=1)
    max_eval_examples: int | None = Field(default=None, ge=1)
    early_stopping_patience: int | None = Field(
        default=None, ge=1, description="Stop after N validations without improvement."
    )
    early_stopping_min_delta: float = Field(default=0.0, ge=0)
    save_every: int | None = Field(default=None, ge=1, description="Checkpoint every N steps (None: 4x/run).")
    keep_checkpoints: int = Field(default=2, ge=1, description="Newest step checkpoints kept.")
    log_every: int = Field(default=1, ge=1)
    seed: int = 0
    num_threads: int | None = Field(
        default=None, ge=1, description="torch CPU threads (None: torch default)."
    )
    report_to: list[Literal["mlflow", "tensorboard"]] = Field(
        default_factory=list, description="Extra trackers, used when installed."
    )
    progress: bool = Field(default=True, description="Show a progress bar on stderr.")
    merge: bool = Field(default=False, description="Also export merged full weights at the end.")
    distributed: DistributedSettings = Field(default_factory=DistributedSettings)

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.quantization == "4bit" and self.device == "cpu":
            raise ValueError("quantization=4bit (QLoRA) needs a CUDA GPU; use quantization=none on CPU")
        if self.quantization == "4bit" and self.base_weights == "fp32":
            raise ValueError("quantization=4bit stores base weights in 4 bits; leave base_weights=auto")
        return self


# -- evaluation and calibration -------------------------------------------------------------------


class EvalConfig(_Strict):
    """An evaluation run: base (zero- and few-shot) and each adapter on every suite."""

    suites: list[str] = Field(
        min_length=1,
        description="`dataset:NAME[:SPLIT]` (a groundtune dataset, split `test` unless given), a "
        "fixed-context benchmark suite, or `injection[:dataset:NAME[:SPLIT]]` (held-out items with an "
        "instruction planted in a document).",
    )
    model: str = Field(default=DEFAULT_LM, description="Base model: registry name, path or hub id.")
    adapters: list[str] = Field(default_factory=list, description="Adapters to compare (names or folders).")
    shots: int = Field(default=2, ge=0, description="Few-shot demonstrations for the base model.")
    include_zero_shot: bool = Field(default=True, description="Also score the base model zero-shot.")
    limit: int | None = Field(default=None, ge=1, description="Score at most this many items per suite.")
    sweeps: bool = Field(default=False, description="Also sweep distractor count and relevant position.")
    style: str | None = Field(default=None, description="Grounding style (None: the adapters' own).")
    max_new_tokens: int = Field(default=160, ge=1)
    data_dir: str | None = Field(default=None, description="Where benchmark suites' files live.")
    seed: int = 0
    max_false_refusal: float | None = Field(
        default=None,
        ge=0.0,
        lt=1.0,
        description="Budget of refused answerable items: calibrate abstention on the first dataset's "
        "validation split first (None: no abstention).",
    )


class CalibrateConfig(_Strict):
    """Fit one adapter's abstention threshold on a dataset split and store it as a calibration."""

    adapter: str = Field(description="Adapter name or folder.")
    dataset: str = Field(description="Dataset whose labelled split the threshold is fitted to.")
    split: str = Field(default="validation")
    max_false_refusal: float = Field(
        default=DEFAULT_MAX_FALSE_REFUSAL, ge=0.0, lt=1.0, description="Budget of refused answerable items."
    )
    name: str | None = Field(default=None, description="Calibration name (default: a new cal_… id).")
    model: str | None = Field(default=None, description="Base model (None: the adapter's recorded one).")
    max_new_tokens: int = Field(default=160, ge=1)


# -- serving --------------------------------------------------------------------------------------


class DeploymentConfig(_Strict):
    """A served base model, its adapters and optionally a knowledge base to retrieve from."""

    model: str = Field(default=DEFAULT_LM, description="Base model: registry name, path or hub id.")
    adapters: dict[str, str] = Field(
        default_factory=dict, description="Served name -> adapter name or folder."
    )
    kb: str | None = Field(
        default=None, description="Knowledge base to retrieve from when requests bring no documents."
    )
    calibrations: list[str] = Field(
        default_factory=list,
        description="Calibration an adapter abstains with; an adapter not named uses its latest.",
    )
    retriever: RetrieverConfig | None = Field(
        default=None,
        description="Retrieve with these settings for every model (None: each adapter's recorded ones, "
        "the default's for the base model); an adapter trained with others gets a warning.",
    )
    strict: bool = Field(
        default=False,
        description="Refuse to serve an adapter whose recorded base model, prompt layout or retriever "
        "differs from this deployment's (default: serve it with a warning).",
    )
    engine: Literal["inprocess", "vllm"] = Field(
        default="inprocess", description="inprocess (transformers + PEFT) or vllm."
    )
    vllm_url: str | None = Field(default=None, description="A running vLLM server (with engine vllm).")
    max_batch: int = Field(default=8, ge=1, le=64, description="Requests generated together.")
    max_queue: int = Field(default=32, ge=1, description="Waiting requests before answering 429.")
    timeout_s: float = Field(default=120.0, ge=1.0, description="Seconds before a request fails with 504.")


def default_serving_retriever() -> RetrieverConfig:
    """What a deployment retrieves with for a model that records no retriever: the default recipe's."""
    return RetrieverConfig(mode="hybrid", documents_per_prompt=4)
