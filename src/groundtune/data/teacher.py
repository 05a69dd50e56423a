"""The teacher generator: a larger model behind any OpenAI-compatible endpoint writes questions about
knowledge-base chunks and grounded answers to them (RAFT-style), with bounded concurrency, retries
with backoff, an on-disk response cache and token accounting.

Each chunk yields up to `questions_per_chunk` questions (one request), then each question gets an
answer with a verbatim evidence quote (one request). The output is QA pairs whose gold chunk is the
source chunk; evidence that is not verbatim in the chunk is dropped and counted. Retrieval, context
planning and rendering happen later, as for any other QA source.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groundtune.core.configs import TeacherConfig
from groundtune.core.errors import UnavailableError
from groundtune.core.ids import content_hash, stable_hash
from groundtune.core.schemas import Chunk
from groundtune.data.sources import QAPair
from groundtune.grounding.quotes import find_verbatim
from groundtune.grounding.teacher_prompts import ANSWER_PROMPT, QUESTION_PROMPT


@dataclass
class TeacherStats:
    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    questions: int = 0
    pairs: int = 0
    unanswered: int = 0
    evidence_not_verbatim: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["errors"] = self.errors[:10]
        return data


@dataclass
class TeacherResult:
    pairs: list[QAPair]
    stats: TeacherStats


class _Client:
    """One chat-completions caller: cache, semaphore, retries, usage."""

    def __init__(self, config: TeacherConfig, cache_dir: Path, stats: TeacherStats) -> None:
        import httpx

        self.config, self.cache_dir, self.stats = config, cache_dir, stats
        self.sem = asyncio.Semaphore(config.concurrency)
        key = os.environ.get(config.api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/"), headers=headers, timeout=config.timeout_s
        )

    async def close(self) -> None:
        await self.http.aclose()

    def _cache_path(self, body: dict[str, Any]) -> Path:
        key = stable_hash({"url": self.config.base_url, **body}, length=32)
        return self.cache_dir / key[:2] / f"{key}.json"

    async def complete(self, prompt: str) -> str | None:
        """The assistant text for one user prompt, or None when every attempt failed."""
        import httpx

        body = {
            "model": self.config.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        path = self._cache_path(body)
        if path.is_file():
            self.stats.cache_hits += 1
            return str(json.loads(path.read_text(encoding="utf-8"))["content"])
        delay = self.config.backoff_s
        for attempt in range(self.config.max_retries + 1):
            async with self.sem:
                self.stats.requests += 1
                try:
                    resp = await self.http.post("/chat/completions", json=body)
                except httpx.HTTPError as exc:
                    resp, problem = None, f"{type(exc).__name__}: {exc}"
            if resp is not None:
                if resp.status_code == 200:
                    data = resp.json()
                    content = data["choices"][0]["message"].get("content") or ""
                    usage = data.get("usage") or {}
                    self.stats.prompt_tokens += int(usage.get("prompt_tokens") or 0)
                    self.stats.completion_tokens += int(usage.get("completion_tokens") or 0)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(".tmp")
                    tmp.write_text(json.dumps({"content": content, "usage": usage}), encoding="utf-8")
                    os.replace(tmp, path)
                    return str(content)
                problem = f"HTTP {resp.status_code}: {resp.text[:200]}"
                retryable = resp.status_code in (408, 409, 429) or resp.status_code >= 500
                if not retryable:
                    self.stats.failures += 1
                    self.stats.errors.append(problem)
                    return None
                after = resp.headers.get("retry-after")
                if after:
                    with contextlib.suppress(ValueError):
                        delay = max(delay, float(after))
            if attempt < self.config.max_retries:
                self.stats.retries += 1
                await asyncio.sleep(delay * (1 + random.random() * 0.1))
                delay *= 2
        self.stats.failures += 1
        self.stats.errors.append(problem)
        return None


def parse_questions(text: str, n: int) -> list[str]:
    """Question lines from the teacher's reply (numbering and bullets removed)."""
    out = []
    for line in text.splitlines():
        q = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip()
        if len(q) > 3 and q not in out:
            out.append(q)
    return out[:n]


def parse_answer(text: str) -> tuple[str | None, str | None]:
    """(answer, evidence) from the teacher's JSON reply; tolerant of text around the JSON object."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if not match:
        return None, None
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    answer, evidence = data.get("answer"), data.get("evidence")
    return (str(answer).strip() or None) if answer else None, (
        str(evidence).strip() or None
    ) if evidence else None


async def _generate(chunks: Sequence[Chunk], config: TeacherConfig, cache_dir: Path) -> TeacherResult:
    stats = TeacherStats()
    client = _Client(config, cache_dir, stats)
    try:

        async def for_chunk(chunk: Chunk) -> list[QAPair]:
            prompt = (config.question_prompt or QUESTION_PROMPT).format(
                title=chunk.title, text=chunk.text, n=config.questions_per_chunk
            )
            reply = await client.complete(prompt)
            questions = parse_questions(reply or "", config.questions_per_chunk)
            stats.questions += len(questions)
            answers = await asyncio.gather(
                *(
                    client.complete(
                        (config.answer_prompt or ANSWER_PROMPT).format(
                            title=chunk.title, text=chunk.text, question=q
                        )
                    )
                    for q in questions
                )
            )
            pairs = []
            for q, raw in zip(questions, answers, strict=True):
                answer, evidence = parse_answer(raw or "")
                if not answer:
                    stats.unanswered += 1
                    continue
                span = find_verbatim(evidence, chunk.text) if evidence else None
                if evidence and span is None:
                    stats.evidence_not_verbatim += 1
                pairs.append(
                    QAPair(
                        id="teacher_" + content_hash(chunk.id, q, length=12),
                        question=q,
                        answers=[answer],
                        gold_chunk_ids=[chunk.id],
                        gold_doc_ids=[chunk.doc_id],
                        gold_evidence=[chunk.text[span[0] : span[1]]] if span else [],
                        source="teacher",
                        meta={"teacher_model": config.model},
                    )
                )
            return pairs

        results = await asyncio.gather(*(for_chunk(c) for c in chunks))
    finally:
        await client.close()
    pairs = [p for group in results for p in group]
    stats.pairs = len(pairs)
    return TeacherResult(pairs, stats)


def generate_qa(
    chunks: Sequence[Chunk], config: TeacherConfig, *, cache_dir: str | Path | None = None
) -> TeacherResult:
    """QA pairs written by the teacher for `chunks` (blocking; runs its own event loop)."""
    from groundtune.core.workspace import get_workspace

    folder = Path(cache_dir or config.cache_dir or get_workspace().cache / "teacher")
    result = asyncio.run(_generate(chunks, config, folder))
    if chunks and not result.pairs and result.stats.failures:
        raise UnavailableError(
            f"the teacher at {config.base_url} answered no request ({result.stats.errors[:1]})",
            hint="check --teacher-url, the model name and the API key variable",
        )
    return result
