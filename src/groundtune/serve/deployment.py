"""A deployment: one base model, its adapters, optionally a knowledge base, and the path of every
request through them: validate -> retrieve (THE retriever) or take the caller's documents ->
render (THE grounding format of the chosen model) -> generate -> parse -> citations.

HTTP lives in app.py; batching in scheduler.py. This module is usable without a server.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from groundtune.core.adapters import AdapterRef, resolve_adapter
from groundtune.core.calibrations import Calibration, latest_calibration
from groundtune.core.configs import DEFAULT_EMBEDDER
from groundtune.core.errors import ConflictError, DeadlineError, InvalidInputError, NotFoundError
from groundtune.core.ids import new_id
from groundtune.core.schemas import ContextDocument, GroundedAnswer
from groundtune.grounding import DEFAULT_STYLE, GroundingFormat, get_format, is_verbatim
from groundtune.grounding.abstention import (
    abstain,
    answer_uncertainty,
    gated_score,
    steer,
    uses_document_scores,
)
from groundtune.grounding.answerability import Scored, score_items
from groundtune.infer.request import GenerationConfig, GenerationRequest, GenerationResult, gated_refusal
from groundtune.serve.calibrations import Chosen
from groundtune.serve.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    Citation,
    GroundingContext,
    ModelCard,
    RetrievedDoc,
    Usage,
)


@dataclass(frozen=True)
class Limits:
    """Input limits; a request beyond them is answered 400 with the limit named."""

    max_message_chars: int = 8_000
    max_documents: int = 20
    max_document_chars: int = 20_000
    max_tokens: int = 1_024
    default_max_tokens: int = 256


@dataclass
class Prepared:
    """A validated request, ready to generate."""

    id: str
    model: str
    fmt: GroundingFormat
    documents: list[ContextDocument]
    generation: GenerationRequest
    retriever_hash: str | None
    warnings: list[str] = field(default_factory=list)
    answerability: float | None = None
    gated: Literal["refuse", "answer"] | None = None  # what the calibration's answerability gate decided


class Deployment:
    """Base model + adapters + optional knowledge base behind one `complete` / `stream` API."""

    def __init__(
        self,
        backend: Any,
        *,
        base_name: str,
        adapters: dict[str, AdapterRef] | None = None,
        kb: Any = None,
        retriever_config: Any = None,
        limits: Limits | None = None,
        scheduler: Any = None,
        timeout_s: float = 120.0,
        calibrations: dict[str, Chosen] | None = None,
        abstention_off: str | None = None,
        home: str | Path | None = None,
        constrained: bool = True,
        adapter_retrievers: dict[str, Any] | None = None,
        base_layout: dict[str, Any] | None = None,
        strict: bool = False,
        retriever_fixed: bool = False,
    ) -> None:
        self.backend = backend
        self.base_name = base_name
        self.adapters: dict[str, AdapterRef] = dict(adapters or {})
        self.kb = kb
        self.limits = limits or Limits()
        self.scheduler = scheduler  # infer.BatchScheduler over an in-process Engine, or None (remote backend)
        self.timeout_s = timeout_s
        self.constrained = constrained  # decode within the grounding grammar (an in-process engine can)
        # The base model's retriever; each adapter retrieves with its own (`adapter_retrievers`: the
        # settings its training data was built with, unless the deployment set others).
        self.retriever = kb.retriever(retriever_config) if kb is not None else None
        self._adapter_configs: dict[str, Any] = dict(adapter_retrievers or {})
        self.retrievers: dict[str, Any] = {}
        self.base_layout = base_layout  # the served base model's turn layout (None: not known here)
        self.strict = strict
        self.retriever_fixed = retriever_fixed  # the deployment chose the retriever for every model
        # served adapter -> the calibration it abstains with (serve/calibrations.py); `abstention_off`
        # says why this backend cannot abstain at all (None: it can).
        self.calibrations: dict[str, Chosen] = dict(calibrations or {})
        self.abstention_off = abstention_off
        self._embedders: dict[str, Any] = {}  # answerability gates' embedders, loaded on first use
        self.home = home
        self._lock = threading.Lock()
        for name, ref in self.adapters.items():
            self._attach(name, ref)

    def _attach(self, name: str, ref: AdapterRef) -> None:
        """Give the adapter its retriever and check it against this deployment (strict: refuse)."""
        if self.kb is not None:
            config = self._adapter_configs.get(name)
            self.retrievers[name] = self.kb.retriever(config) if config is not None else self.retriever
        problems = self.mismatches(ref)
        if problems and self.strict:
            raise ConflictError(
                f"adapter '{ref.name}' does not match this deployment: {'; '.join(problems)}",
                hint="serve it with the base model, layout and retriever it was trained with, or drop --strict",
            )

    # -- models and adapters ------------------------------------------------------------------------

    @property
    def retriever_hash(self) -> str | None:
        return self.retriever.hash() if self.retriever is not None else None

    def retriever_for(self, model: str) -> Any:
        """The retriever `model` retrieves with (an adapter's own, else the base model's)."""
        return self.retrievers.get(model, self.retriever)

    def mismatches(self, ref: AdapterRef) -> list[str]:
        """How serving `ref` here differs from how it was trained: base model, prompt layout,
        retriever (documents per prompt named when they differ). Empty when nothing is known to differ."""
        m = ref.manifest
        out = []
        if m.model and m.model != self.base_name:
            out.append(
                f"adapter '{ref.name}' was trained on base model {m.model}, this deployment serves {self.base_name}"
            )
        if m.prompt_layout and self.base_layout and m.prompt_layout.model_dump() != self.base_layout:
            out.append(
                f"adapter '{ref.name}' was trained with prompt layout {m.prompt_layout.name}, "
                f"the served model uses {self.base_layout.get('name')}"
            )
        retriever = self.retrievers.get(ref.name, self.retriever)
        if retriever is not None and ref.retriever_hash and ref.retriever_hash != retriever.hash():
            trained = m.retriever.config if m.retriever else None
            shown = retriever.config.documents_per_prompt
            if trained is not None and trained.documents_per_prompt != shown:
                out.append(
                    f"adapter '{ref.name}' was trained on {trained.documents_per_prompt} documents per prompt "
                    f"(retriever {ref.retriever_hash}), this deployment retrieves {shown} (retriever {retriever.hash()})"
                )
            else:
                out.append(
                    f"adapter '{ref.name}' was trained with retriever {ref.retriever_hash}, this deployment "
                    f"retrieves with {retriever.hash()}: its training context may differ from what it sees now"
                )
        return out

    def _warnings(self, ref: AdapterRef | None) -> list[str]:
        if ref is None:
            return []
        warnings = []
        chosen = self.calibrations.get(ref.name)
        if self.abstention_off and chosen:
            warnings.append(f"calibration {chosen.calibration.name} is not applied: {self.abstention_off}")
        return warnings + self.mismatches(ref)

    def abstention(self, model: str) -> str:
        """How `model` abstains, in one sentence (model cards and /health say it)."""
        if model == self.base_name:
            return "never abstains (calibrations belong to adapters)"
        if self.abstention_off:
            return self.abstention_off
        chosen = self.calibrations.get(model)
        return chosen.describe() if chosen else "never abstains: no calibration (groundtune eval calibrate)"

    def models(self) -> list[ModelCard]:
        cards = [
            ModelCard(
                id=self.base_name,
                kind="base",
                grounding_format=DEFAULT_STYLE,
                retriever_hash=self.retriever_hash,
                abstention=self.abstention(self.base_name),
            )
        ]
        for name, ref in self.adapters.items():
            chosen = self.calibrations.get(name)
            cards.append(
                ModelCard(
                    id=name,
                    kind="adapter",
                    grounding_format=ref.grounding_style or DEFAULT_STYLE,
                    retriever_hash=ref.retriever_hash,
                    calibration=chosen.calibration.name if chosen else None,
                    abstention=self.abstention(name),
                    warnings=self._warnings(ref),
                )
            )
        return cards

    def load_adapter(self, name: str, path: str | Path) -> ModelCard:
        """Attach an adapter at run time (name or folder, as `groundtune serve --adapter` takes)."""
        if name == self.base_name or name in self.adapters:
            raise ConflictError(
                f"model '{name}' is already served", hint="unload it first or pick another name"
            )
        ref = resolve_adapter(path, self.home, name=name)
        latest = latest_calibration(ref, self.home)
        if not self.retriever_fixed and ref.manifest.retriever and ref.manifest.retriever.config:
            self._adapter_configs[name] = ref.manifest.retriever.config
        self._attach(name, ref)
        with self._lock:
            self.backend.load_adapter(name, ref.path)
            self.adapters[name] = ref
            if latest is not None:
                self.calibrations[name] = Chosen(latest, named=False)
        return next(c for c in self.models() if c.id == name)

    def unload_adapter(self, name: str) -> None:
        if name not in self.adapters:
            raise NotFoundError(f"no adapter '{name}' is loaded", hint="GET /v1/models lists what is served")
        with self._lock:
            self.backend.unload_adapter(name)
            del self.adapters[name]
            self.calibrations.pop(name, None)
            self.retrievers.pop(name, None)

    # -- one request ---------------------------------------------------------------------------------

    def prepare(self, req: ChatCompletionRequest) -> Prepared:
        """Validate, choose documents and render the prompt; raises InvalidInputError on bad input."""
        lim = self.limits
        if req.model != self.base_name and req.model not in self.adapters:
            raise NotFoundError(
                f"the model '{req.model}' does not exist",
                hint=f"served models: {', '.join([self.base_name, *self.adapters])}",
                code="model_not_found",
            )
        users = [m for m in req.messages if m.role == "user"]
        if not users or req.messages[-1].role != "user":
            raise InvalidInputError(
                "the last message must come from the user", hint="end messages with a user turn"
            )
        question = users[-1].text().strip()
        if not question:
            raise InvalidInputError("the user message is empty", hint="ask a question")
        for i, message in enumerate(req.messages):
            if len(message.text()) > lim.max_message_chars:
                raise InvalidInputError(
                    f"messages[{i}] has {len(message.text())} characters, more than the limit of {lim.max_message_chars}",
                    hint="shorten the message",
                    code="message_too_long",
                )
        max_tokens = req.max_completion_tokens or req.max_tokens or lim.default_max_tokens
        if max_tokens > lim.max_tokens:
            raise InvalidInputError(
                f"max_tokens={max_tokens} exceeds this server's limit of {lim.max_tokens}",
                hint=f"ask for at most {lim.max_tokens} tokens",
                code="max_tokens_too_large",
            )
        ref = self.adapters.get(req.model)
        fmt = get_format(ref.grounding_style if ref and ref.grounding_style else DEFAULT_STYLE)
        documents, hash_ = self._documents(req, question)
        stop = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
        config = GenerationConfig(
            max_new_tokens=max_tokens,
            temperature=req.temperature,
            top_p=req.top_p,
            stop=stop,
            seed=req.seed,
            constrained=self.constrained,
        )
        calibration, scored = self._document_scores(req.model, question, documents)
        gated, constraint = steer(fmt.constraint(documents), calibration, scored)
        score = gated_score(calibration, scored)
        generation = GenerationRequest(
            prompt=fmt.render_prompt(question, documents),
            adapter=ref.name if ref else None,
            config=config,
            constraint=constraint,
        )
        return Prepared(
            new_id("chatcmpl"),
            req.model,
            fmt,
            documents,
            generation,
            hash_,
            self._warnings(ref),
            score,
            gated,
        )

    def _document_scores(
        self, model: str, question: str, documents: list[ContextDocument]
    ) -> tuple[Calibration | None, Scored | None]:
        """`model`'s calibration in force and the documents' answerability under it (None when it has
        neither an answerability gate nor a relevance margin: nothing reads them)."""
        chosen = self.calibrations.get(model)
        c = chosen.calibration if chosen and not self.abstention_off else None
        if c is None or not uses_document_scores(c):
            return c, None
        name = c.embedder or DEFAULT_EMBEDDER
        if name not in self._embedders:
            from groundtune.models.registry import load_embedder

            self._embedders[name] = load_embedder(name)
        return c, score_items(
            [(question, [(d.title, d.text) for d in documents])], self._embedders[name].encode
        )[0]

    def _documents(
        self, req: ChatCompletionRequest, question: str
    ) -> tuple[list[ContextDocument], str | None]:
        lim = self.limits
        if req.documents is not None:
            if len(req.documents) > lim.max_documents:
                raise InvalidInputError(
                    f"{len(req.documents)} documents sent, more than the limit of {lim.max_documents}",
                    hint=f"send at most {lim.max_documents} documents",
                    code="too_many_documents",
                )
            for i, doc in enumerate(req.documents):
                if len(doc.text) > lim.max_document_chars:
                    raise InvalidInputError(
                        f"documents[{i}] has {len(doc.text)} characters, more than the limit of {lim.max_document_chars}",
                        hint="split or shorten the document",
                        code="document_too_long",
                    )
            return [
                ContextDocument(title=d.title, text=d.text, doc_id=d.id, source=d.source)
                for d in req.documents
            ], None
        retriever = self.retriever_for(req.model)
        if retriever is None:
            raise InvalidInputError(
                "this deployment has no knowledge base and the request carries no documents",
                hint="send `documents: [{title, text}]`, or start the server with --kb",
                code="no_context",
            )
        hits = retriever.search(
            question
        )  # documents per prompt and filters as the model's training data had them
        docs = [
            ContextDocument(
                title=h.chunk.title,
                text=h.chunk.text,
                doc_id=h.chunk.doc_id,
                chunk_id=h.chunk.id,
                source=h.chunk.source,
                score=h.score,
            )
            for h in hits
        ]
        return docs, retriever.hash()

    def generate(self, prepared: Prepared) -> GenerationResult:
        if prepared.gated == "refuse":
            return gated_refusal(prepared.fmt.render_target(prepared.fmt.refusal_target()))
        if self.scheduler is None:
            return self.backend.generate([prepared.generation])[0]
        future = self.scheduler.submit(prepared.generation)
        try:
            return future.result(timeout=self.timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise DeadlineError(
                f"the request did not finish within the server's {self.timeout_s:.0f}s timeout",
                hint="retry, lower max_tokens, or start the server with a larger --timeout",
            ) from None

    def deltas(self, prepared: Prepared) -> Iterator[tuple[str, GenerationResult | None]]:
        """(raw text delta, None) while generating, then ("", result)."""
        if self.scheduler is None or prepared.gated == "refuse":
            result = self.generate(prepared)
            yield result.text, None
            yield "", result
            return
        stream = self.scheduler.stream(prepared.generation, timeout_s=self.timeout_s)
        for delta in stream:
            yield delta, None
        assert stream.result is not None
        yield "", stream.result

    def abstention_threshold(self, model: str) -> float | None:
        """The calibrated abstention threshold of `model` (None: it never abstains)."""
        chosen = self.calibrations.get(model)
        return None if self.abstention_off or chosen is None else chosen.calibration.threshold

    def message(self, prepared: Prepared, result: GenerationResult) -> AssistantMessage:
        """The assistant message: user-facing answer with [n] markers, and the grounding context. An
        adapter with a calibrated abstention threshold refuses when it was too unsure of its answer."""
        threshold = self.abstention_threshold(prepared.model)
        parsed = prepared.fmt.parse(result.text, prepared.documents)
        uncertainty = answer_uncertainty(result.text, parsed.answer, result.token_entropy, result.token_ends)
        text, parsed = abstain(prepared.fmt, result.text, parsed, uncertainty, threshold, prepared.documents)
        content = prepared.fmt.refusal if parsed.refusal else parsed.answer.strip()
        context = self._context(prepared, parsed)
        context.uncertainty = uncertainty
        context.answerability = prepared.answerability
        context.constrained = result.constrained
        if prepared.gated == "refuse":
            c = self.calibrations[prepared.model].calibration
            context.warnings.append(
                f"the documents do not appear to hold an answer (answerability {prepared.answerability:.3f} < "
                f"{c.gate:.3f}, calibration {c.name}), so the reply is a refusal"
            )
        if text != result.text:
            context.warnings.append(
                f"the model was unsure of its answer (uncertainty {uncertainty:.3f} >= {threshold:.3f}, "
                f"calibration {self.calibrations[prepared.model].calibration.name}), so the reply is a refusal"
            )
        return AssistantMessage(content=content, context=context)

    def _context(self, prepared: Prepared, parsed: GroundedAnswer) -> GroundingContext:
        docs = prepared.documents
        quotes: dict[int, tuple[str, bool]] = {}
        for q in parsed.quotes:
            if 1 <= q.doc <= len(docs):
                ok = is_verbatim(q.text, docs[q.doc - 1].text)
                if q.doc not in quotes or (ok and not quotes[q.doc][1]):
                    quotes[q.doc] = (q.text, ok)
        cited = [] if parsed.refusal else [n for n in parsed.citations if 1 <= n <= len(docs)]
        citations = [
            Citation(
                index=n,
                document_id=docs[n - 1].doc_id,
                chunk_id=docs[n - 1].chunk_id,
                title=docs[n - 1].title,
                source=docs[n - 1].source,
                quote=quotes.get(n, (None, False))[0],
                quote_verified=quotes.get(n, (None, False))[1],
                score=docs[n - 1].score,
            )
            for n in cited
        ]
        warnings = list(prepared.warnings)
        if not parsed.format_ok:
            warnings.append(
                "the model's output did not follow the grounding format: " + "; ".join(parsed.violations)
            )
        retrieved = [
            RetrievedDoc(
                index=i,
                document_id=d.doc_id,
                chunk_id=d.chunk_id,
                title=d.title,
                source=d.source,
                score=d.score,
                text=d.text,
            )
            for i, d in enumerate(docs, start=1)
        ]
        return GroundingContext(
            citations=citations,
            relevant=[n for n in parsed.relevant if 1 <= n <= len(docs)],
            refusal=parsed.refusal,
            retrieved=retrieved,
            grounding_format=f"{prepared.fmt.id}@{prepared.fmt.version}",
            retriever_hash=prepared.retriever_hash,
            warnings=warnings,
        )

    def complete(self, req: ChatCompletionRequest) -> ChatCompletion:
        """Answer one request (no streaming)."""
        prepared = self.prepare(req)
        result = self.generate(prepared)
        return ChatCompletion(
            id=prepared.id,
            model=prepared.model,
            choices=[Choice(message=self.message(prepared, result), finish_reason=result.finish_reason)],
            usage=usage(result),
        )


def usage(result: GenerationResult) -> Usage:
    return Usage(
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        total_tokens=result.prompt_tokens + result.completion_tokens,
    )
