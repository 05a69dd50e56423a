"""The REST API's own request and response shapes, beside the stage configs (core.configs) and
artifacts (core.artifacts) it sends as they are: a knowledge base and its documents, an upload's
per-file statuses, a search, a dataset example preview, an adapter with its lineage, a checkpoint,
a deployment, an API key at creation. The platform API returns them and the SDK reads them.
Pydantic only: no torch, no stage of groundtune.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from groundtune.core.artifacts import AdapterManifest, ApiKey, ApiScope, Job, RetrieverRecord
from groundtune.core.configs import DeploymentConfig, KBSettings, RetrieverConfig, SearchFilters, TrainConfig
from groundtune.core.schemas import Chunk, ContextDocument, EvalRecord, RetrievedChunk

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Deleted(BaseModel):
    """What a DELETE answers (OpenAI's shape)."""

    id: str
    object: str
    deleted: bool = True


# -- knowledge bases ------------------------------------------------------------------------------


class KnowledgeBaseCreate(_Request):
    """Body of `POST /v1/knowledge_bases`."""

    name: str = Field(pattern=_NAME, description="1-64 letters, digits, '-', '_' or '.'.")
    embedder: str = Field(default="minilm-l6", description="Embedder registry name or path.")
    chunk_tokens: int = Field(default=256, ge=8, le=8192, description="Chunk size in embedder tokens.")
    chunk_overlap: int = Field(default=32, ge=0, le=8191, description="Overlap between chunks, in tokens.")
    index_url: str | None = Field(default=None, description="Qdrant server URL; None = local mode.")
    keep_versions: bool = Field(default=False, description="Keep superseded versions searchable.")


class KnowledgeBase(BaseModel):
    """A knowledge base: its settings and how much it holds."""

    object: Literal["knowledge_base"] = "knowledge_base"
    id: str
    name: str
    settings: KBSettings = Field(description="kb.json (a catalog URL's password is masked).")
    documents: int | None = Field(default=None, description="Latest document versions (None: busy).")
    chunks: int | None = Field(default=None, description="Chunks of the latest versions (None: busy).")
    generation: int | None = Field(default=None, description="Committed writes so far (None: busy).")
    busy: str | None = Field(
        default=None, description="Why counts are missing: another process (a job) holds the KB now."
    )


class DocumentInfo(BaseModel):
    """One document version, without its text (`GET .../documents/{id}` has the text)."""

    object: Literal["document"] = "document"
    id: str
    version: int
    title: str
    source: str
    content_hash: str
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    chars: int = Field(description="Length of the parsed text.")
    created_at: str | None = None


FileState = Literal["accepted", "rejected", "pending", "added", "updated", "unchanged", "ingested", "failed"]


class FileStatus(BaseModel):
    """One uploaded file: accepted or rejected at upload, then what its ingestion did."""

    filename: str
    bytes: int
    status: FileState = Field(
        description="accepted/rejected at upload; pending while its job waits or runs; added, updated, "
        "unchanged (documents files), ingested (record files) or failed when the job is done."
    )
    reason: str | None = Field(default=None, description="Why it was rejected or failed, and the fix.")
    documents: list[str] = Field(default_factory=list, description="Document ids it became.")


class Upload(BaseModel):
    """`POST /v1/knowledge_bases/{name}/documents`: the ingestion job and each file's status."""

    object: Literal["knowledge_base.upload"] = "knowledge_base.upload"
    id: str = Field(description="The ingestion job's id.")
    knowledge_base: str
    job: Job
    files: list[FileStatus]


class SearchRequest(_Request):
    """Body of `POST /v1/knowledge_bases/{name}/search`: one query through THE retriever."""

    query: str = Field(min_length=1, max_length=8000)
    retriever: RetrieverConfig = Field(
        default_factory=RetrieverConfig, description="Mode, documents_per_prompt (results), fusion, filters."
    )
    filters: SearchFilters | None = Field(default=None, description="Narrow the retriever's filters.")


class SearchResults(BaseModel):
    """Ranked chunks with their fused score and each arm's rank."""

    object: Literal["list"] = "list"
    data: list[RetrievedChunk]
    retriever: RetrieverRecord = Field(description="The resolved retriever and its hash.")


class ChunkLocation(BaseModel):
    """A chunk in its document: the document version's text, the chunk's span in it and, when a quote
    is given, where that quote is (what a citation opens)."""

    object: Literal["knowledge_base.chunk"] = "knowledge_base.chunk"
    chunk: Chunk
    document: DocumentInfo = Field(description="The document version the chunk belongs to.")
    text: str = Field(description="That version's parsed text; `chunk.start`/`chunk.end` index into it.")
    quote: str | None = Field(default=None, description="The quote asked about.")
    quote_span: list[int] | None = Field(
        default=None,
        description="[start, end) of the quote in `text`, searched inside the chunk (None: not a verbatim "
        "span of it).",
    )


# -- files ----------------------------------------------------------------------------------------


class FileObject(BaseModel):
    """An uploaded QA file (OpenAI's file object); a dataset source names it by id as its `path`."""

    object: Literal["file"] = "file"
    id: str = Field(description="file_…; pass it as a `qa` source's `path` in POST /v1/datasets.")
    filename: str
    bytes: int
    created_at: int
    purpose: Literal["qa"] = "qa"
    records: int = Field(description="QA pairs it holds.")


# -- datasets -------------------------------------------------------------------------------------


class PreviewDocument(BaseModel):
    number: int = Field(description="Its [n] in the prompt.")
    role: Literal["oracle", "distractor"] = Field(
        description="oracle: holds the answer (relevant); distractor: retrieved (or random) but not relevant."
    )
    title: str
    text: str
    reason: str = Field(default="", description="Why the labeller marked it so.")
    doc_id: str | None = None
    chunk_id: str | None = None


class ExamplePreview(BaseModel):
    """One dataset example as the UI shows it: documents marked oracle or distractor, the target and
    (with `tokens=true`) the tokens split into prompt (not trained) and completion (trained)."""

    object: Literal["dataset.example"] = "dataset.example"
    id: str
    split: str | None
    question: str
    answerable: bool
    refusal: bool = Field(description="The target refuses (no oracle in the context).")
    documents: list[PreviewDocument]
    completion: str
    prompt_tokens: int | None = None
    trained_tokens: int | None = None
    pieces: list[dict[str, Any]] | None = Field(default=None, description="[{text, trained}] per token.")


# -- fine-tuning and adapters ---------------------------------------------------------------------


class Checkpoint(BaseModel):
    """A resumable step checkpoint of a fine-tuning job's run (OpenAI's checkpoint shape where it fits)."""

    object: Literal["fine_tuning.job.checkpoint"] = "fine_tuning.job.checkpoint"
    id: str = Field(description="`<run_id>:step-N`.")
    fine_tuning_job_id: str
    step_number: int
    created_at: int
    metrics: dict[str, Any] = Field(default_factory=dict, description="The step's logged metrics.")


class Lineage(BaseModel):
    """Where an adapter came from: its dataset, that dataset's KB snapshot and retriever, the recipe."""

    run_id: str | None = None
    dataset: str | None = None
    dataset_id: str | None = None
    knowledge_base: str | None = None
    kb_generation: int | None = Field(default=None, description="The KB snapshot its data was built from.")
    retriever_hash: str | None = None
    recipe: TrainConfig | None = Field(default=None, description="The resolved training config.")
    fine_tuning_job: str | None = Field(default=None, description="The job that trained it, if any.")


class Adapter(BaseModel):
    """A trained adapter: its manifest, lineage and calibrations."""

    object: Literal["adapter"] = "adapter"
    id: str = Field(description="Its registered name.")
    created_at: int
    manifest: AdapterManifest
    lineage: Lineage
    calibrations: list[str] = Field(default_factory=list, description="Its calibrations, oldest first.")
    files: dict[str, int] = Field(default_factory=dict, description="File name -> bytes.")


# -- evaluations ----------------------------------------------------------------------------------


class QuoteSpan(BaseModel):
    """One quote of a model's reply, located in the prompt document it names."""

    doc: int = Field(description="The document's [n] in the prompt.")
    text: str
    start: int | None = Field(
        default=None, description="Offset in that document's text (None: not verbatim)."
    )
    end: int | None = None


class EvalItemOutput(BaseModel):
    """What one system answered on the item, with its quotes located in the documents."""

    system: str
    record: EvalRecord
    quotes: list[QuoteSpan] = Field(default_factory=list)


class EvalItem(BaseModel):
    """One evaluated item: the question, the prompt's documents, the gold answer and every system's reply."""

    object: Literal["evaluation.item"] = "evaluation.item"
    id: str = Field(description="The example id.")
    evaluation: str
    suite: str
    question: str
    answer: str = Field(description="The gold answer ('' when the documents do not hold one).")
    answerable: bool
    documents: list[ContextDocument] = Field(description="The prompt's documents, [1] first.")
    gold_evidence: list[str] = Field(default_factory=list)
    outputs: list[EvalItemOutput]


# -- deployments ----------------------------------------------------------------------------------


class DeploymentCreate(_Request):
    """Body of `POST /v1/deployments`."""

    name: str = Field(pattern=_NAME)
    config: DeploymentConfig = Field(default_factory=DeploymentConfig)
    start: bool = Field(default=False, description="Start it right away.")


class Deployment(BaseModel):
    """A stored deployment; while running, its models answer `/v1/chat/completions`."""

    object: Literal["deployment"] = "deployment"
    id: str = Field(description="Its name.")
    config: DeploymentConfig
    status: Literal["stopped", "running", "failed"]
    error: dict[str, Any] | None = None
    created_at: int | None = None
    models: list[str] = Field(default_factory=list, description="Model names it serves while running.")


# -- API keys -------------------------------------------------------------------------------------


class ApiKeyCreate(_Request):
    name: str = Field(min_length=1, max_length=64)
    scopes: list[ApiScope] = Field(min_length=1)


class ApiKeyCreated(ApiKey):
    """A new key: the only response that carries its secret."""

    secret: str = Field(description="Send as `Authorization: Bearer <secret>`; it is not shown again.")
