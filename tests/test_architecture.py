"""The import contract: a stage imports `core` and the stages it consumes, never the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "groundtune"

ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "models": {"core"},
    "kb": {"core", "models"},
    "grounding": {"core", "models"},
    "data": {"core", "models", "kb", "grounding"},
    "train": {"core", "models", "grounding", "data"},
    "infer": {"core", "models", "grounding"},
    "eval": {"core", "models", "kb", "grounding", "data", "infer"},
    "serve": {"core", "models", "kb", "grounding", "infer"},
    "pipelines": {"core", "models", "kb", "grounding", "data", "train", "infer", "eval", "serve"},
    "platform": {"core", "models", "kb", "grounding", "data", "train", "infer", "eval", "serve", "pipelines"},
    "sdk": {"core"},
    "ui": {"core", "platform"},
    "cli": {
        "core",
        "models",
        "kb",
        "grounding",
        "data",
        "train",
        "infer",
        "eval",
        "serve",
        "pipelines",
        "platform",
        "sdk",
        "ui",
    },
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "groundtune" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_stage_is_known() -> None:
    stages = {p.name for p in PKG.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert stages <= set(ALLOWED), f"new stage(s) {stages - set(ALLOWED)}: add them to ALLOWED and DESIGN.md"


def test_stages_import_only_what_they_consume() -> None:
    bad = []
    for stage, allowed in ALLOWED.items():
        for path in (PKG / stage).rglob("*.py") if (PKG / stage).exists() else []:
            for dep in _imports(path) - allowed - {stage}:
                if (PKG / dep).is_dir():
                    bad.append(f"{path.relative_to(PKG)} imports groundtune.{dep}")
    assert not bad, "\n".join(bad)


def _string_literals(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal of a module except docstrings (they describe, not prompt)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def _prompt_sentences() -> set[str]:
    """Every refusal sentence, and every sentence of at least six words of the instructions and the
    teacher prompts, that grounding/ defines."""
    import re

    from groundtune.grounding import get_format, styles, teacher_prompts

    texts = [teacher_prompts.QUESTION_PROMPT, teacher_prompts.ANSWER_PROMPT]
    sentences = set()
    for style in styles():
        fmt = get_format(style)
        sentences.add(fmt.refusal)
        texts.append(fmt.instruction)
    for text in texts:
        sentences |= {s.strip() for s in re.split(r"(?<=[.:])\s+", text) if len(s.split()) >= 6}
    return sentences


# Text that is not a prompt although it looks like one: the tiny test tokenizer is trained on the
# grounding format's vocabulary (models/tiny.py), so its corpus quotes it.
NOT_PROMPTS = {"models/tiny.py"}


def test_prompt_text_lives_only_in_grounding() -> None:
    """No module outside grounding/ writes a refusal sentence or an instruction to a model: they are
    defined once, in grounding/, and everything else imports them."""
    sentences = _prompt_sentences()
    bad = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        if rel.parts[0] == "grounding" or str(rel) in NOT_PROMPTS:
            continue
        for line, text in _string_literals(path):
            copied = [s for s in sentences if s in text]
            # New prompt text: a multi-line literal with a template field that tells a model to reply.
            instructs = "\n" in text and "{" in text and any(w in text for w in ("Reply", "Answer", "Write "))
            if copied or instructs:
                bad.append(f"{rel}:{line}: {text[:80]!r}")
    assert not bad, "prompt text outside grounding/ (move it there and import it):\n" + "\n".join(bad)
