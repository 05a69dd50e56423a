"""Evaluation: grounded-QA metrics per capability, suites, robustness sweeps, runs and reports.

It compares systems (base zero-shot, base few-shot, each adapter) on identical prompts and decoding.
Prompts come from `groundtune.grounding`; generation from `groundtune.infer`.
"""

from groundtune.eval.metrics import aggregate, item_metrics

__all__ = ["aggregate", "item_metrics"]
