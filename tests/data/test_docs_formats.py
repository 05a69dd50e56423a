"""docs/data-formats.md shows one JSON example of each contract; each must validate against its model
(configs and artifacts: tests/core/test_docs_artifacts.py generates theirs)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel

from groundtune.core import schemas
from groundtune.data.sources import QAPair

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-formats.md"
MODELS: dict[str, type[BaseModel]] = {
    "Document": schemas.Document,
    "Chunk": schemas.Chunk,
    "RetrievedChunk": schemas.RetrievedChunk,
    "QAPair": QAPair,
    "ContextDocument": schemas.ContextDocument,
    "GroundedAnswer": schemas.GroundedAnswer,
    "Example": schemas.Example,
    "EvalRecord": schemas.EvalRecord,
}


def test_every_contract_has_a_valid_example() -> None:
    blocks = dict(re.findall(r"^## (\w+)\n.*?```json\n(.*?)\n```", DOC.read_text(), re.DOTALL | re.MULTILINE))
    assert set(MODELS) <= set(blocks), set(MODELS) - set(blocks)
    for name, model in MODELS.items():
        model.model_validate(json.loads(blocks[name]))


def test_the_example_prompt_is_what_the_grounding_format_renders() -> None:
    from groundtune.grounding import get_format

    blocks = dict(re.findall(r"^## (\w+)\n.*?```json\n(.*?)\n```", DOC.read_text(), re.DOTALL | re.MULTILINE))
    ex = schemas.Example.model_validate(json.loads(blocks["Example"]))
    assert (ex.prompt, ex.completion) == get_format(ex.style).render_example(ex)
