"""The committed API reference: `docs/openapi.json` (the app's OpenAPI schema) and `docs/api.md`
(generated from it: one section per resource, each route with its summary, parameters, body and
response). tests/platform/api/test_spec.py fails when either drifts from the code; regenerate with
`python -m groundtune.platform.api.spec` (writes both under docs/)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[4] / "docs"


def openapi() -> dict[str, Any]:
    """The schema of the platform app (no store is touched to build it)."""
    from groundtune.platform.api.app import create_platform_app

    with tempfile.TemporaryDirectory() as home:
        app = create_platform_app(None, None, home=home, api_keys_required=True)
        return app.openapi()


def spec_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _ref_name(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return "`" + schema["$ref"].rsplit("/", 1)[-1] + "`"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(n for n in (_ref_name(s) for s in schema[key]) if n)
    if schema.get("type") == "array":
        return f"list of {_ref_name(schema.get('items'))}"
    return f"`{schema.get('type', 'object')}`"


def markdown(schema: dict[str, Any]) -> str:
    """docs/api.md: the routes grouped by resource (tag), in the schema's order."""
    lines = [
        "# REST API reference",
        "",
        "<!-- generated from docs/openapi.json by `python -m groundtune.platform.api.spec`; do not edit -->",
        "",
        schema["info"].get("description", ""),
        "",
        "Start the server with `groundtune server` (`groundtune server --help`); the interactive page is at `/docs`.",
        "",
    ]
    groups: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            groups.setdefault((op.get("tags") or ["other"])[0], []).append((method.upper(), path, op))
    for tag, ops in groups.items():
        lines += [f"## {tag}", ""]
        for method, path, op in ops:
            lines += [f"### `{method} {path}`", ""]
            summary = (op.get("description") or op.get("summary") or "").strip()
            if summary:
                lines += [summary, ""]
            params = op.get("parameters", [])
            if params:
                lines.append("| parameter | in | type | description |")
                lines.append("|---|---|---|---|")
                for p in params:
                    desc = (p.get("description") or p.get("schema", {}).get("description") or "").replace(
                        "\n", " "
                    )
                    req = " (required)" if p.get("required") else ""
                    lines.append(
                        f"| `{p['name']}`{req} | {p['in']} | {_ref_name(p.get('schema'))} | {desc} |"
                    )
                lines.append("")
            body = op.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                lines += [f"Body ({media}): {_ref_name(content.get('schema'))}", ""]
            ok = op.get("responses", {}).get("200", {}).get("content", {})
            for media, content in ok.items():
                lines += [f"Returns ({media}): {_ref_name(content.get('schema')) or 'see description'}", ""]
    lines += ["## Schemas", "", "Every request and response model, as `core` defines it:", ""]
    for name, model in schema.get("components", {}).get("schemas", {}).items():
        first = (model.get("description") or "").strip().split("\n")[0]
        lines.append(f"- `{name}`: {first}" if first else f"- `{name}`")
    return "\n".join(lines).rstrip() + "\n"


def write(docs: Path = DOCS) -> list[Path]:
    schema = openapi()
    spec, page = docs / "openapi.json", docs / "api.md"
    spec.write_text(spec_text(schema), encoding="utf-8")
    page.write_text(markdown(schema), encoding="utf-8")
    return [spec, page]


if __name__ == "__main__":
    for written in write(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS):
        print(f"wrote {written}")
