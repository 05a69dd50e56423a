"""What every stage leaves behind, typed once: the dataset card (`card.json`), the training run
manifest (`run.json`), the adapter manifest (`groundtune-adapter.json`), the calibration
(`calibration.json`) and the evaluation report (`report.json`); and the platform's records: the job,
its events, a page of a list and an API key.

Writers dump these models and readers load them, so the same facts have the same names everywhere;
they are also the REST API's and the SDK's response types. Each carries `schema_version`; a file of
an older shape is read by its one migration function (`migrate_card`, `migrate_run`,
`migrate_adapter`, `migrate_calibration`, `migrate_eval_report`), never by readers guessing shapes.
Pydantic only: no torch, no stage of groundtune.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, Generic, Literal, Protocol, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field

from groundtune.core.configs import BuildConfig, RetrieverConfig
from groundtune.core.errors import InvalidInputError

CARD_SCHEMA: Final = 2
RUN_SCHEMA: Final = 2
ADAPTER_SCHEMA: Final = 2
CALIBRATION_SCHEMA: Final = 1
EVAL_REPORT_SCHEMA: Final = 1


class _Artifact(BaseModel):
    model_config = ConfigDict(extra="forbid")


MAX_LISTED_TRAINED = (
    "The most documents one training target's Relevant line named, over the run's training examples and "
    "the adapter it continued (None: unknown); a calibrated list rule never makes the adapter name more."
)


# -- records shared by several artifacts ----------------------------------------------------------


class RetrieverRecord(_Artifact):
    """The retriever an artifact was made with: its resolved config (embedder and sparse scheme
    filled in from the knowledge base) and that config's hash, which serving compares."""

    hash: str = Field(description="RetrieverConfig.hash() of `config` (or as recorded, when no config was).")
    config: RetrieverConfig | None = Field(
        default=None, description="The resolved settings; None only in files that recorded a bare hash."
    )

    @classmethod
    def of(cls, config: RetrieverConfig) -> RetrieverRecord:
        return cls(hash=config.hash(), config=config)


class GroundingRecord(_Artifact):
    """The grounding format a dataset was rendered with (GroundingFormat.describe())."""

    style: str = Field(description="Style id: cited, raft-cot or answer-only.")
    version: str | None = Field(
        default=None, description="The style's version; a new one renders differently."
    )
    refusal: str | None = Field(default=None, description="The style's refusal sentence.")
    instruction_hash: str | None = Field(
        default=None, description="Hash of the instruction the prompts open with."
    )


class PromptLayoutRecord(_Artifact):
    """The turn layout prompts were wrapped with for the base model (models.PromptLayout)."""

    name: str
    user_prefix: str
    user_suffix: str
    model_suffix: str
    stop: list[str] = Field(default_factory=list)


# -- dataset card ---------------------------------------------------------------------------------


class SourceSummary(_Artifact):
    """One QA source of a build, as the card lists it (question counts are in `stats.sources`)."""

    kind: str
    path: str | None = None
    assign: str = "auto"
    limit: int | None = None


class DatasetCard(_Artifact):
    """What a dataset is and how it was built (`<dataset>/card.json`); training, evaluation and
    serving read it."""

    schema_version: Literal[2] = CARD_SCHEMA
    id: str = Field(description="Opaque dataset id (ds_…).")
    name: str
    created_at: str = Field(description="UTC ISO time the build finished.")
    groundtune_version: str
    kb: str | None = Field(default=None, description="Knowledge base the contexts were retrieved from.")
    kb_generation: int | None = Field(
        default=None,
        description="The knowledge base's committed generation the contexts were retrieved at (its "
        "snapshot: every later ingest or removal raises it).",
    )
    embedder: str | None = None
    retriever: RetrieverRecord | None = Field(
        default=None, description="The retriever the contexts came from."
    )
    grounding: GroundingRecord | None = Field(
        default=None, description="The grounding format of the examples."
    )
    oracle_fraction: float = Field(description="P: share of answerable questions given an oracle context.")
    documents_per_prompt: int = Field(description="Documents an example shows at most.")
    seed: int
    lm: str = Field(description="The LM whose tokenizer counted the token budget.")
    max_tokens: int
    sources: list[SourceSummary] = Field(default_factory=list)
    splits: dict[str, int] = Field(default_factory=dict, description="Examples per split.")
    stats: dict[str, Any] = Field(default_factory=dict, description="The build report (report.json).")
    config: BuildConfig | None = Field(default=None, description="The build config (without `overwrite`).")


def migrate_card(raw: dict[str, Any]) -> DatasetCard:
    """A dataset card of any shape groundtune wrote. Version 1 (no `schema_version`) named the
    documents per example `k` and recorded the retriever as `{'hash', 'config'}` whose config's `k`
    was set by hand; the grounding format as `grounding`, `grounding_format` or `style`."""
    if raw.get("schema_version") == CARD_SCHEMA:
        return DatasetCard.model_validate(raw)
    data = dict(raw)
    data.pop("schema_version", None)
    shown = data.pop("k", None)
    data.setdefault("documents_per_prompt", shown)
    data["grounding"] = _grounding(
        data.pop("grounding", None) or data.pop("grounding_format", None),
        data.pop("style", None),
        data.pop("grounding_version", None),
    )
    data["retriever"] = _retriever(data.get("retriever"), data.pop("retriever_hash", None), shown)
    config = data.get("config")
    if isinstance(config, dict) and config:
        config = {k: v for k, v in config.items() if k != "overwrite"}
        retriever = config.get("retriever")
        if isinstance(retriever, dict) and "k" in retriever:  # v1: overrides, `k` kept equal by hand
            config["retriever"] = {k: v for k, v in retriever.items() if k != "k"}
        data["config"] = _quietly(BuildConfig.model_validate, config)
    else:
        data["config"] = None
    return _validated(DatasetCard, data, "dataset card")


def _grounding(value: Any, style: str | None, version: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        value = {"style": value}
    value = dict(value or {})
    if "id" in value:
        value.setdefault("style", value.pop("id"))
    value.setdefault("style", style)
    if version is not None:
        value.setdefault("version", version)
    if value.get("version") is not None:
        value["version"] = str(value["version"])
    return value if value.get("style") else None


def _retriever(value: Any, bare_hash: str | None, shown: int | None = None) -> RetrieverRecord | None:
    """A v1 retriever record: `{'hash', 'config'}` (a config of the old shape is re-hashed, its
    documents per prompt those the examples showed when known) or a bare hash."""
    if isinstance(value, RetrieverRecord):
        return value
    value = value if isinstance(value, dict) else {}
    config = value.get("config")
    if isinstance(config, dict):
        if shown is not None:
            config = {**{k: v for k, v in config.items() if k != "k"}, "documents_per_prompt": shown}
        return RetrieverRecord.of(_quietly(RetrieverConfig.model_validate, config))
    recorded = value.get("hash") or bare_hash
    return RetrieverRecord(hash=recorded) if recorded else None


def _quietly(validate: Any, data: Any) -> Any:
    """Validate an old file's config without the deprecation warning its old names raise."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return validate(data)


def _validated(model: type[Any], data: dict[str, Any], what: str) -> Any:
    try:
        return model.model_validate(data)
    except ValueError as exc:
        raise InvalidInputError(
            f"this {what} has a shape groundtune cannot read: {str(exc).splitlines()[0:3]}",
            hint="rebuild it with this version of groundtune",
        ) from None


# -- training run and adapter ---------------------------------------------------------------------


class InitAdapterRecord(_Artifact):
    """The adapter a run continued from."""

    name: str
    path: str
    manifest_hash: str


class ShippedRecord(_Artifact):
    """How an adapter that ships with the package was made, so anyone can check and reproduce it."""

    recipe: str = Field(description="Recipe it was trained with.")
    recipe_sha256: str
    data: dict[str, str] = Field(
        default_factory=dict,
        description="sha256 of every public data file it read, by path under the data root.",
    )
    commit: str | None = Field(default=None, description="groundtune commit that trained it.")
    weights_dtype: str = "bfloat16"
    reproduce: str = Field(description="The command that trains it again.")


class AdapterManifest(_Artifact):
    """What serving needs beside an adapter's weights (`groundtune-adapter.json`): the base model,
    prompt layout, grounding format and retriever it was trained with."""

    schema_version: Literal[2] = ADAPTER_SCHEMA
    run_id: str | None = Field(default=None, description="The training run that made it.")
    adapter_name: str | None = None
    model: str | None = Field(
        default=None, description="Base model it was trained on (registry name, path or hub id)."
    )
    model_path: str | None = None
    prompt_layout: PromptLayoutRecord | None = Field(
        default=None, description="Turn layout of its training prompts."
    )
    grounding: GroundingRecord | None = None
    retriever: RetrieverRecord | None = Field(default=None, description="Retriever of its training data.")
    dataset: str | None = None
    max_listed: int | None = Field(default=None, ge=1, description=MAX_LISTED_TRAINED)
    groundtune_version: str | None = None
    best_val_loss: float | None = None
    shipped: ShippedRecord | None = Field(
        default=None, description="Set on adapters that ship with the package (core/shipped)."
    )

    @property
    def grounding_style(self) -> str | None:
        return self.grounding.style if self.grounding else None

    @property
    def retriever_hash(self) -> str | None:
        return self.retriever.hash if self.retriever else None


class RunManifest(_Artifact):
    """A training run (`runs/<run_id>/run.json`): status, versions, inputs, provenance and results."""

    schema_version: Literal[2] = RUN_SCHEMA
    run_id: str
    adapter_name: str
    status: Literal["running", "succeeded", "failed", "stopped"] = Field(
        description="stopped: stopped on request at a step boundary; `train resume` continues it."
    )
    error: str | None = Field(default=None, description="Why a failed run failed.")
    groundtune_version: str
    versions: dict[str, str] = Field(default_factory=dict, description="python, torch, transformers, peft.")
    model: str
    model_path: str | None = None
    model_parameters: int
    trainable_parameters: int
    dataset: str
    dataset_dir: str
    dataset_card_hash: str | None = None
    max_listed: int | None = Field(default=None, ge=1, description=MAX_LISTED_TRAINED)
    init_adapter: InitAdapterRecord | None = None
    grounding: GroundingRecord | None = None
    retriever: RetrieverRecord | None = None
    prompt_layout: PromptLayoutRecord
    examples: dict[str, int] = Field(description="train, train_skipped_too_long, validation.")
    supervised_tokens_per_epoch: int
    total_steps: int = Field(
        description="Steps the run plans: what the config asks for, or fewer when `max_minutes` cut it."
    )
    unbudgeted_steps: int | None = Field(
        default=None,
        description="Steps the config asked for when the time budget (`max_minutes`) cut the run.",
    )
    steps_per_epoch: int
    world_size: int
    device: str
    precision: str
    base_weights_dtype: str
    steps: int | None = None
    stopped_early: bool | None = None
    best_val_loss: float | None = None
    best_step: int | None = None
    final_train_loss: float | None = None
    final_val_loss: float | None = None
    final_val_token_accuracy: float | None = None
    supervised_tokens: int | None = None
    train_seconds: float | None = Field(
        default=None, description="Wall time of the training steps and validations, over every resume."
    )
    adapter_dir: str | None = None
    registered_adapter: str | None = None
    merged_dir: str | None = None

    def adapter_manifest(self) -> AdapterManifest:
        return AdapterManifest(
            run_id=self.run_id,
            adapter_name=self.adapter_name,
            model=self.model,
            model_path=self.model_path,
            prompt_layout=self.prompt_layout,
            grounding=self.grounding,
            retriever=self.retriever,
            dataset=self.dataset,
            max_listed=self.max_listed,
            groundtune_version=self.groundtune_version,
            best_val_loss=self.best_val_loss,
        )


def _provenance_v1(data: dict[str, Any]) -> dict[str, Any]:
    """v1 run and adapter manifests: flat grounding_format/grounding_version/grounding and
    retriever_hash/retriever_config become the `grounding` and `retriever` records."""
    data = dict(data)
    data.pop("schema_version", None)
    grounding = data.pop("grounding", None)
    data["grounding"] = _grounding(
        grounding if isinstance(grounding, dict) and grounding else None,
        data.pop("grounding_format", None),
        data.pop("grounding_version", None),
    )
    data["retriever"] = _retriever(
        {"hash": data.pop("retriever_hash", None), "config": data.pop("retriever_config", None)}, None
    )
    return data


def migrate_run(raw: dict[str, Any]) -> RunManifest:
    """A run manifest of any shape groundtune wrote (v1: flat provenance keys)."""
    if raw.get("schema_version") == RUN_SCHEMA:
        return RunManifest.model_validate(raw)
    return _validated(RunManifest, _provenance_v1(raw), "run manifest")


def migrate_adapter(raw: dict[str, Any]) -> AdapterManifest:
    """An adapter manifest of any shape groundtune wrote (v1: flat provenance keys; its retriever
    config is re-hashed as it stands, so serving retrieves as before)."""
    if raw.get("schema_version") == ADAPTER_SCHEMA:
        return AdapterManifest.model_validate(raw)
    keep = set(AdapterManifest.model_fields) | {
        "grounding_format",
        "grounding_version",
        "retriever_hash",
        "retriever_config",
    }
    return _validated(
        AdapterManifest, _provenance_v1({k: v for k, v in raw.items() if k in keep}), "adapter manifest"
    )


# -- calibration ----------------------------------------------------------------------------------


class _Resolved(Protocol):
    """A resolved adapter (core.adapters.AdapterRef) as far as a calibration asks."""

    @property
    def run_id(self) -> str | None: ...

    @property
    def path(self) -> Path: ...


class Calibration(_Artifact):
    """Where an abstention threshold came from and what it did on the items it was fitted to."""

    schema_version: Literal[1] = CALIBRATION_SCHEMA
    name: str
    created: str = Field(description="UTC time it was written; the latest of an adapter's wins by default.")
    groundtune_version: str
    adapter: str = Field(description="Name of the adapter it belongs to.")
    adapter_path: str
    adapter_run_id: str | None = Field(description="Training run of that adapter (a retrained one differs).")
    model: str = Field(description="Base model the adapter was run on.")
    grounding_format: str = Field(description="`style@version` of the prompts it was fitted with.")
    dataset: str
    split: str
    max_false_refusal: float = Field(ge=0.0, lt=1.0, description="Budget of refused answerable items.")
    threshold: float | None = Field(description="Refuse at answer uncertainty (nats) >= this; None: never.")
    items: int
    answerable: int
    false_refusal: float = Field(description="Share of answerable items refused at the threshold.")
    refusal_recall: float | None = Field(description="Share of refusal items refused at the threshold.")
    signal: Literal["uncertainty", "answerability"] = Field(
        default="uncertainty",
        description="What decides refusals: answer uncertainty (`threshold`) or the documents' "
        "answerability (`gate`); the one that refused better on the calibration items.",
    )
    gate: float | None = Field(
        default=None,
        description="With signal `answerability`: refuse (without generating) below this answerability, "
        "else the model must answer.",
    )
    gate_weights: list[float] | None = Field(
        default=None,
        description="With a gate: weights of the answerability features (then a bias) that make the "
        "score it cuts; None: the best document's score.",
    )
    embedder: str | None = Field(default=None, description="Embedder answerability is scored with.")
    relevance_margin: float | None = Field(
        default=None,
        description="Replies name as relevant only documents whose own answerability is within this of "
        "the best document's; None: any prompt document.",
    )
    list_all: bool = Field(
        default=False,
        description="With a margin: replies name every document within it (the documents' scores listed "
        "the calibration items' gold documents better than the model's own picks).",
    )
    max_listed: int | None = Field(
        default=None,
        ge=1,
        description="With `list_all`: replies name at most this many documents, the best-scoring within the "
        "margin (the most the system was trained or shown to name: its adapter's `max_listed`, or its "
        "demonstrations'; else the most its own lists named on the calibration items); None: no cap.",
    )
    auroc: dict[str, float | None] = Field(
        default_factory=dict, description="Refusal AUROC of each signal on the calibration items."
    )
    eval_run: str | None = Field(default=None, description="The evaluation run that made it, if any.")

    def belongs_to(self, ref: _Resolved) -> bool:
        """Whether this calibration was fitted to `ref` (the same training run, else the same folder)."""
        if self.adapter_run_id and ref.run_id:
            return self.adapter_run_id == ref.run_id
        return Path(self.adapter_path) == ref.path


def migrate_calibration(raw: dict[str, Any]) -> Calibration:
    """Calibrations have had one shape; files written before `schema_version` lack only it."""
    return _validated(Calibration, {**raw, "schema_version": CALIBRATION_SCHEMA}, "calibration")


# -- evaluation report ----------------------------------------------------------------------------


class EvalAdapter(AdapterManifest):
    """An evaluated adapter: its manifest and the folder it was loaded from."""

    path: str


class EvalReport(_Artifact):
    """An evaluation run (`runs/<eval_id>/report.json`): settings, metrics per suite and system,
    sweeps, abstention and the calibrations it stored."""

    schema_version: Literal[1] = EVAL_REPORT_SCHEMA
    id: str
    created: str
    groundtune_version: str
    model: str
    adapters: dict[str, EvalAdapter] = Field(default_factory=dict)
    systems: list[dict[str, Any]] = Field(default_factory=list, description="System settings compared.")
    grounding: GroundingRecord | None = None
    decoding: dict[str, Any] = Field(default_factory=dict, description="GenerationConfig used.")
    suites: dict[str, dict[str, dict[str, Any]]] = Field(
        default_factory=dict, description="suite -> system -> metric -> value."
    )
    sweeps: dict[str, Any] = Field(default_factory=dict)
    abstention: dict[str, Any] = Field(default_factory=dict, description="system -> fitted abstention.")
    calibrations: dict[str, str] = Field(default_factory=dict, description="adapter -> calibration name.")
    demonstrations: dict[str, list[str]] = Field(default_factory=dict, description="suite -> example ids.")


def migrate_eval_report(raw: dict[str, Any]) -> EvalReport:
    """An evaluation report of any shape groundtune wrote (before `schema_version`: the adapters'
    manifests of the v1 shape)."""
    if raw.get("schema_version") == EVAL_REPORT_SCHEMA:
        return EvalReport.model_validate(raw)
    data = {k: v for k, v in raw.items() if k in EvalReport.model_fields}
    data["adapters"] = {
        name: {**migrate_adapter(entry).model_dump(), "path": entry.get("path", "")}
        for name, entry in (raw.get("adapters") or {}).items()
    }
    data["grounding"] = _grounding(raw.get("grounding"), None, None)
    return _validated(EvalReport, data, "evaluation report")


# -- knowledge base -------------------------------------------------------------------------------


class FileError(BaseModel):
    """One input `kb add` could not read, and the fix."""

    source: str
    message: str
    hint: str = ""


class AddSummary(BaseModel):
    """What `kb add` (an ingestion job's result) did: new, updated and unchanged document ids, chunks
    written, and per-file errors."""

    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    errors: list[FileError] = Field(default_factory=list)
    chunks: int = 0
    generation: int | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors


# -- platform: jobs, events, pages, API keys ------------------------------------------------------

JobState = Literal["validating_files", "queued", "running", "cancelling", "succeeded", "failed", "cancelled"]
JobKind = Literal["ingestion", "dataset", "fine_tuning", "evaluation", "calibration"]
JOB_STATES: Final[tuple[str, ...]] = get_args(JobState)
JOB_KINDS: Final[tuple[str, ...]] = get_args(JobKind)
TERMINAL_STATES: Final = frozenset({"succeeded", "failed", "cancelled"})
ApiScope = Literal["read", "write", "admin"]


class Job(_Artifact):
    """One stage run as a job (the OpenAI fine-tuning job's shape where it fits): a kind and the
    stage's config, where it stands, and what it made."""

    object: Literal["job"] = "job"
    id: str = Field(description="Opaque job id (job_…).")
    kind: JobKind = Field(
        description="Which stage runs: ingestion (kb add), dataset (data build), fine_tuning (train), "
        "evaluation (eval run) or calibration (eval calibrate)."
    )
    state: JobState = Field(
        description="validating_files -> queued -> running -> succeeded | failed | cancelled, with "
        "cancelling between running and cancelled."
    )
    config: dict[str, Any] = Field(
        description="The stage's config as JSON (IngestConfig, BuildConfig, TrainConfig, EvalConfig or "
        "CalibrateConfig), validated against the kind."
    )
    created_at: int = Field(description="Unix seconds the job was created.")
    started_at: int | None = Field(default=None, description="Unix seconds a worker first started it.")
    finished_at: int | None = Field(default=None, description="Unix seconds it reached a final state.")
    attempts: int = Field(
        default=0, ge=0, description="Times a worker started it (a resume after a lost worker adds one)."
    )
    error: dict[str, Any] | None = Field(
        default=None, description="Why it failed: {message, type, code} as the API's error body has them."
    )
    result: dict[str, Any] | None = Field(
        default=None,
        description="The stage's artifact as JSON once it succeeded (AddSummary, DatasetCard, RunManifest, "
        "EvalReport or Calibration).",
    )
    resource: str | None = Field(
        default=None,
        description="Name of what it made or changed: knowledge base, dataset, adapter, evaluation run "
        "or calibration.",
    )


class JobEvent(_Artifact):
    """One line of a job's log: a message, a state change, progress or metrics."""

    object: Literal["job.event"] = "job.event"
    id: int = Field(description="Event id, increasing across the store (the `after` cursor).")
    job_id: str
    created_at: int = Field(description="Unix seconds.")
    level: Literal["info", "warning", "error"] = "info"
    type: Literal["message", "progress", "state", "metrics"] = Field(
        description="message: a note; state: the job moved (data.state); progress: a ProgressEvent "
        "(data.stage, done, total, metrics; training adds loss, lr, tokens_per_s, eta_s); metrics: results."
    )
    message: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list (OpenAI's list shape): pass `last_id` as `after` for the next page."""

    object: Literal["list"] = "list"
    data: list[T]
    has_more: bool = Field(description="Whether more items follow this page.")
    first_id: str | int | None = Field(default=None, description="Id of the first item on this page.")
    last_id: str | int | None = Field(default=None, description="Id of the last item on this page.")


class ApiKey(_Artifact):
    """An API key as stored and listed: never its secret (shown once, at creation), only its prefix."""

    object: Literal["api_key"] = "api_key"
    id: str = Field(description="Opaque key id (key_…).")
    name: str
    scopes: list[ApiScope] = Field(description="read: GET; write: POST and DELETE; admin: manage keys.")
    prefix: str = Field(description="The secret's first characters, to recognise it.")
    created_at: int = Field(description="Unix seconds.")
    last_used_at: int | None = Field(
        default=None, description="Unix seconds (updated at most once a minute)."
    )
    revoked_at: int | None = Field(default=None, description="Unix seconds it was revoked; None while valid.")
