"""The prompts a teacher model gets when it writes training questions and grounded answers from a
knowledge-base chunk (`data.teacher` sends them). Prompt text lives in `grounding/`, beside the
format the student is trained on; these ask a larger model, so they are plain instructions.
"""

from __future__ import annotations

QUESTION_PROMPT = (
    'Here is a passage titled "{title}":\n\n{text}\n\n'
    "Write {n} different questions that a user might ask and that this passage answers on its own. "
    "One question per line, no numbering, nothing else."
)
ANSWER_PROMPT = (
    'Passage titled "{title}":\n\n{text}\n\nQuestion: {question}\n\n'
    'Reply with JSON only: {{"evidence": "<the sentence of the passage that answers, copied exactly>", '
    '"answer": "<a short answer>"}}. If the passage does not answer, reply {{"answer": null}}.'
)
