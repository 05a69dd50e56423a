"""Reports: one JSON file and one self-contained HTML page (tables and inline SVG plots) per eval run.

Reads only the metrics dictionary an eval run wrote; knows nothing about models or generation.
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from groundtune.eval.headline import HEADLINE_KEYS

# Capability -> (metric, higher is better). The order is the order of the report's tables.
CAPABILITIES: dict[str, list[tuple[str, bool]]] = {
    "Relevance assessment": [
        ("relevance_f1", True),
        ("relevance_gold_named", True),
        ("relevance_exact", True),
    ],
    "Information extraction": [
        ("quote_validity", True),
        ("quote_precision", True),
        ("has_valid_quote", True),
        ("evidence_recall", True),
    ],
    "Grounded synthesis": [
        ("answer_containment", True),
        ("answer_f1", True),
        ("exact_match", True),
        ("citation_precision", True),
        ("citation_recall", True),
        ("unsupported", False),
    ],
    "Refusal": [
        ("refusal_precision", True),
        ("refusal_recall", True),
        ("refusal_f1", True),
        ("false_refusal_rate", False),
    ],
    "Judge (optional)": [
        ("judge_faithfulness", True),
        ("judge_correctness", True),
    ],
    "Format and cost": [
        ("format_ok", True),
        ("latency_mean_s", False),
        ("tokens_per_item", False),
        ("n_items", True),
    ],
}


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if value >= 10 else f"{value:.3f}"


def _best(values: list[float | None], higher: bool) -> float | None:
    kept = [v for v in values if v is not None]
    if len(kept) < 2:
        return None
    return max(kept) if higher else min(kept)


def suite_table(metrics: Mapping[str, Mapping[str, float | None]]) -> str:
    """HTML table: capability metrics as rows, systems as columns, the best value in bold."""
    systems = list(metrics)
    head = "".join(f"<th>{html.escape(s)}</th>" for s in systems)
    rows = []
    for capability, keys in CAPABILITIES.items():
        rows.append(f'<tr class="cap"><th colspan="{len(systems) + 1}">{capability}</th></tr>')
        for key, higher in keys:
            values = [metrics[s].get(key) for s in systems]
            if all(v is None for v in values):
                continue
            best = _best(values, higher) if key != "n_items" else None
            cells = "".join(
                f"<td><b>{_fmt(v)}</b></td>" if v is not None and v == best else f"<td>{_fmt(v)}</td>"
                for v in values
            )
            arrow = "↑" if higher else "↓"
            rows.append(f"<tr><td>{key} {arrow if key != 'n_items' else ''}</td>{cells}</tr>")
    return f"<table><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def bar_chart(title: str, metrics: Mapping[str, Mapping[str, float | None]]) -> str:
    """Grouped bars of the headline metrics per system, as inline SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = list(metrics)
    keys = [k for k in HEADLINE_KEYS if any(metrics[s].get(k) is not None for s in systems)]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(keys)), 3.2))
    width = 0.8 / max(1, len(systems))
    for i, system in enumerate(systems):
        values = [metrics[system].get(k) or 0.0 for k in keys]
        ax.bar([x + i * width for x in range(len(keys))], values, width, label=system)
    ax.set_xticks(
        [x + width * (len(systems) - 1) / 2 for x in range(len(keys))], keys, rotation=20, fontsize=8
    )
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return _svg(fig)


def sweep_chart(title: str, sweep: Mapping[str, Mapping[str, float]], prefix: str) -> str:
    """One line per system over a sweep's settings (`distractors=` counts or `position=` places)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 3.0))
    for system, values in sweep.items():
        tags = [t for t in values if t.startswith(prefix)]
        labels = [t.split("=", 1)[1] for t in tags]
        if prefix.startswith("distractors"):
            order = sorted(range(len(tags)), key=lambda i: int(labels[i]))
        else:
            order = sorted(range(len(tags)), key=lambda i: ("first", "middle", "last").index(labels[i]))
        ax.plot([labels[i] for i in order], [values[tags[i]] for i in order], marker="o", label=system)
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("answer containment", fontsize=8)
    ax.legend(fontsize=7)
    return _svg(fig)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}
td:first-child,th:first-child{text-align:left}tr.cap th{background:#eef;text-align:left}
.plots{display:flex;flex-wrap:wrap;gap:1rem}.plots svg{max-width:520px;height:auto}
code{background:#f4f4f4;padding:0 .2rem}
"""


def render_html(report: Mapping[str, Any]) -> str:
    """The whole report page: run settings, abstention thresholds, one section per suite, then the sweeps."""
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>groundtune eval {html.escape(str(report.get('id', '')))}</title>"
    ]
    parts.append(f"<style>{_CSS}</style></head><body>")
    parts.append(f"<h1>groundtune evaluation <code>{html.escape(str(report.get('id', '')))}</code></h1>")
    settings = {
        k: report.get(k) for k in ("model", "adapters", "systems", "grounding", "decoding") if k in report
    }
    parts.append(f"<pre>{html.escape(json.dumps(settings, indent=2, default=str))}</pre>")
    abstention = report.get("abstention") or {}
    if abstention:
        from groundtune.grounding.abstention import Abstention

        parts.append("<h2>Abstention (calibrated on the validation split)</h2><ul>")
        for system, calibrated in abstention.items():
            line = Abstention.model_validate(calibrated).summary()
            parts.append(f"<li><b>{html.escape(system)}</b> {html.escape(line)}</li>")
        parts.append("</ul>")
    for suite, metrics in report.get("suites", {}).items():
        parts.append(f"<h2>Suite: {html.escape(suite)}</h2>")
        parts.append(f"<div class='plots'>{bar_chart(suite, metrics)}</div>")
        parts.append(suite_table(metrics))
    sweeps = report.get("sweeps") or {}
    if sweeps:
        parts.append("<h2>Robustness sweeps</h2><div class='plots'>")
        parts.append(sweep_chart("Accuracy vs number of distractors", sweeps, "distractors="))
        parts.append(sweep_chart("Accuracy vs position of the relevant document", sweeps, "position="))
        parts.append("</div>")
    parts.append("</body></html>")
    return "".join(parts)


def write_report(run_dir: Path, report: Mapping[str, Any]) -> tuple[Path, Path]:
    """Write `report.json` and `report.html` into `run_dir`; returns both paths."""
    json_path = run_dir / "report.json"
    html_path = run_dir / "report.html"
    json_path.write_text(json.dumps(report, indent=2, default=str))
    html_path.write_text(render_html(report))
    return json_path, html_path
