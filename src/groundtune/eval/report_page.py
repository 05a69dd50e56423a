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

from groundtune.core.figures import CAPABILITIES, HEADLINE_KEYS, verdicts

__all__ = ["CAPABILITIES", "bar_chart", "render_html", "suite_table", "sweep_chart", "write_report"]


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
.better{color:#17652f;font-weight:600}.worse{color:#a4141b;font-weight:600}
details{margin:1.5rem 0}summary{cursor:pointer;font-weight:600}
code{background:#f4f4f4;padding:0 .2rem}
@media (max-width:600px){body{margin:.75rem}table{font-size:.85rem}}
"""


def verdict_table(metrics: Mapping[str, Mapping[str, float | None]], systems: list[dict[str, Any]]) -> str:
    """Each tuned system's headline figures against the best base system: the first thing to read."""
    rows = verdicts(metrics, systems)
    if not rows:
        return ""
    body = "".join(
        f"<tr><td>{html.escape(v.system)}</td><td>{html.escape(v.figure.label)} "
        f"{'↑' if v.figure.higher_is_better else '↓'}</td><td>{_fmt(v.tuned)}</td><td>{_fmt(v.base)}"
        f"{' (' + html.escape(v.base_system) + ')' if v.base_system else ''}</td>"
        f"<td class='{v.outcome}'>{v.outcome}"
        f"{'' if v.delta is None else f' ({v.delta:+.3f})'}</td></tr>"
        for v in rows
    )
    return (
        "<table class='verdict'><tr><th>system</th><th>figure</th><th>tuned</th><th>best base</th>"
        f"<th>verdict</th></tr>{body}</table>"
    )


def render_html(report: Mapping[str, Any]) -> str:
    """The whole report page: per suite the verdict (tuned against base) and its plot, the robustness
    sweeps, the full tables per capability, abstention; the run's settings fold away at the end."""
    rid = html.escape(str(report.get("id", "")))
    systems = list(report.get("systems") or [])
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>groundtune eval {rid}</title>"
    ]
    parts.append("<meta name='viewport' content='width=device-width, initial-scale=1'>")
    parts.append(f"<style>{_CSS}</style></head><body>")
    parts.append(f"<h1>groundtune evaluation <code>{rid}</code></h1>")
    suites = report.get("suites", {})
    for suite, metrics in suites.items():
        parts.append(f"<h2>Verdict: {html.escape(suite)}</h2>")
        parts.append(verdict_table(metrics, systems))
        parts.append(f"<div class='plots'>{bar_chart(suite, metrics)}</div>")
    sweeps = report.get("sweeps") or {}
    if sweeps:
        parts.append("<h2>Robustness sweeps</h2><div class='plots'>")
        parts.append(sweep_chart("Accuracy vs number of distractors", sweeps, "distractors="))
        parts.append(sweep_chart("Accuracy vs position of the relevant document", sweeps, "position="))
        parts.append("</div>")
    for suite, metrics in suites.items():
        parts.append(f"<h2>All metrics: {html.escape(suite)}</h2>")
        parts.append(suite_table(metrics))
    abstention = report.get("abstention") or {}
    if abstention:
        from groundtune.grounding.abstention import Abstention

        parts.append("<h2>Abstention (calibrated on the validation split)</h2><ul>")
        for system, calibrated in abstention.items():
            line = Abstention.model_validate(calibrated).summary()
            parts.append(f"<li><b>{html.escape(system)}</b> {html.escape(line)}</li>")
        parts.append("</ul>")
    settings = {
        k: report.get(k) for k in ("model", "adapters", "systems", "grounding", "decoding") if k in report
    }
    parts.append("<details><summary>Settings of this run</summary>")
    parts.append(f"<pre>{html.escape(json.dumps(settings, indent=2, default=str))}</pre></details>")
    parts.append("</body></html>")
    return "".join(parts)


def write_report(run_dir: Path, report: Mapping[str, Any]) -> tuple[Path, Path]:
    """Write `report.json` and `report.html` into `run_dir`; returns both paths."""
    json_path = run_dir / "report.json"
    html_path = run_dir / "report.html"
    json_path.write_text(json.dumps(report, indent=2, default=str))
    html_path.write_text(render_html(report))
    return json_path, html_path
