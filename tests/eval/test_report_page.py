"""The standalone report page leads with the verdict (tuned against the best base system) and its
plots; the run's settings fold away below everything else."""

from __future__ import annotations

from groundtune.core.figures import verdicts
from groundtune.eval.report_page import render_html

SYSTEMS = [
    {"name": "base", "adapter": None, "shots": 0},
    {"name": "base-2shot", "adapter": None, "shots": 2},
    {"name": "tuned", "adapter": "tuned", "shots": 0},
]
METRICS = {
    "base": {"relevance_f1": 0.2, "answer_f1": 0.1, "false_refusal_rate": 0.5},
    "base-2shot": {"relevance_f1": 0.4, "answer_f1": 0.3, "false_refusal_rate": 0.2},
    "tuned": {"relevance_f1": 0.7, "answer_f1": 0.3, "false_refusal_rate": 0.3},
}


def test_verdicts_compare_each_tuned_system_with_the_best_base() -> None:
    by_key = {v.figure.key: v for v in verdicts(METRICS, SYSTEMS)}
    assert {v.system for v in by_key.values()} == {"tuned"}
    assert by_key["relevance_f1"].base_system == "base-2shot" and by_key["relevance_f1"].outcome == "better"
    assert by_key["answer_f1"].outcome == "same"
    # lower is better: the best base is the lowest false-refusal rate, and 0.3 > 0.2 is worse
    assert by_key["false_refusal_rate"].base == 0.2 and by_key["false_refusal_rate"].outcome == "worse"
    assert by_key["quote_validity"].outcome == "n/a"


def test_report_page_leads_with_the_verdict_and_folds_the_settings() -> None:
    report = {"id": "eval_x", "model": "m", "systems": SYSTEMS, "suites": {"dataset:d:test": METRICS}}
    page = render_html(report)
    verdict, plot, table = page.index("Verdict:"), page.index("<svg"), page.index("All metrics:")
    settings = page.index("<details><summary>Settings")
    assert verdict < plot < table < settings
    assert page.index("<pre>") > settings  # the raw settings only inside the fold
    assert "class='better'" in page and "class='worse'" in page
