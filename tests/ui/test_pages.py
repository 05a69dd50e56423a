"""The UI's pages without a browser: each renders over an empty and a filled workspace, an error is
an HTML page with the error's status, the pages stay out of the OpenAPI spec, sign-in follows the
API's rule, and the helpers that mark text and draw charts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from groundtune import kb as kbmod
from groundtune.platform.api import create_platform_app
from groundtune.platform.store import Store
from groundtune.ui import charts, install
from groundtune.ui.marks import runs
from groundtune.ui.session import COOKIE, UI_HEADER

TINY_EMBEDDER = "tiny-random-minilm"
PAGES = ["/", "/knowledge_bases", "/datasets", "/datasets/new", "/fine_tuning", "/fine_tuning/new", "/jobs",
         "/adapters", "/evaluations", "/evaluations/new", "/playground", "/signin"]  # fmt: skip


def _app(home: Path, store: Store, *, required: bool) -> TestClient:
    app = create_platform_app(store, None, home=home, api_keys_required=required)
    install(app, required)
    return TestClient(app, follow_redirects=False)


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(None, home=tmp_path / "gt-home")
    yield s
    s.close()


@pytest.fixture()
def client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    with _app(tmp_path / "gt-home", store, required=False) as c:
        yield c


def test_every_page_renders_and_links_its_json_twin(client: TestClient) -> None:
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        assert "<main" in r.text and "x-request-id" in r.headers
    assert 'href="/v1/knowledge_bases"' in client.get("/knowledge_bases").text
    assert client.get("/assets/ui.js").status_code == 200 and client.get("/assets/ui.css").status_code == 200


def test_a_filled_kb_its_search_and_a_cited_chunk(client: TestClient, tmp_path: Path) -> None:
    assert (
        client.post("/v1/knowledge_bases", json={"name": "docs", "embedder": TINY_EMBEDDER}).status_code
        == 200
    )
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "warranty.md").write_text(
        "# Warranty\n\nAll products carry a warranty of 24 months. Batteries less.\n"
    )
    kbmod.add("docs", [docs], home=tmp_path / "gt-home")
    page = client.get("/knowledge_bases/docs", params={"q": "warranty months"})
    assert page.status_code == 200 and 'id="search-results"' in page.text and "Warranty" in page.text
    hit = client.post("/v1/knowledge_bases/docs/search", json={"query": "warranty"}).json()["data"][0][
        "chunk"
    ]
    quote = "a warranty of 24 months"
    located = client.get(f"/v1/knowledge_bases/docs/chunks/{hit['id']}", params={"quote": quote}).json()
    start, end = located["quote_span"]
    assert located["text"][start:end] == quote and hit["start"] <= start < end <= hit["end"]
    page = client.get(
        f"/knowledge_bases/docs/documents/{hit['doc_id']}", params={"chunk": hit["id"], "quote": quote}
    )
    assert f'<mark class="chunk quote" id="quote" tabindex="-1">{quote}</mark>' in page.text
    missing = client.get(f"/v1/knowledge_bases/docs/chunks/{hit['id']}", params={"quote": "not in it"}).json()
    assert missing["quote_span"] is None
    gone = client.get("/knowledge_bases/docs/documents/nope")
    assert gone.status_code == 404 and gone.headers["content-type"].startswith("text/html")


def test_pages_are_not_in_the_api_spec(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert all(p.startswith("/v1") or p == "/health" for p in paths), sorted(paths)


def test_sign_in_follows_the_api_rule(store: Store, tmp_path: Path) -> None:
    secret, key = store.create_api_key("lead", ["read"])
    with _app(tmp_path / "gt-home", store, required=True) as c:
        r = c.get("/datasets?after=x")
        assert r.status_code == 303 and r.headers["location"] == "/signin?next=%2Fdatasets%3Fafter%3Dx"
        assert c.get("/signin").status_code == 200 and c.get("/assets/ui.css").status_code == 200
        assert c.post("/signin", data={"key": "wrong", "next": "/"}).status_code == 401
        ok = c.post("/signin", data={"key": secret, "next": "//elsewhere.example"})
        assert ok.status_code == 303 and ok.headers["location"] == "/"  # only local places to go back to
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        c.cookies.set(COOKIE, secret)
        assert c.get("/datasets").status_code == 200
        assert c.get("/v1/datasets").status_code == 200  # the UI's reads carry the signed-in key
        # a write from the UI reaches the API's own scope check (a read key may not write) ...
        body = {"name": "kb1", "embedder": TINY_EMBEDDER}
        assert c.post("/v1/knowledge_bases", json=body, headers={UI_HEADER: "1"}).status_code == 403
        # ... a write without the UI's header does not use the cookie at all
        assert c.post("/v1/knowledge_bases", json=body).status_code == 401
        store.revoke_api_key(key.id)
        assert c.get("/datasets").status_code == 303


def test_runs_cut_text_at_every_span() -> None:
    text = "abcdefghij"
    cut = runs(text, [(2, 8, "chunk"), (4, 6, "quote")])
    assert "".join(r.text for r in cut) == text
    assert [(r.text, r.marks) for r in cut] == [
        ("ab", ()),
        ("cd", ("chunk",)),
        ("ef", ("chunk", "quote")),
        ("gh", ("chunk",)),
        ("ij", ()),
    ]
    assert cut[2].first == ("quote",) and runs("abc", []) == [runs("abc", [])[0]]


def test_charts_are_titled_svg_with_a_text_alternative() -> None:
    bars = charts.bars("Refusal", {"base": {"refusal_f1": 0.2}, "tuned": {"refusal_f1": 0.9}}, ["refusal_f1"])
    assert bars.startswith("<svg") and "<title>Refusal</title>" in bars and "tuned refusal_f1 0.900" in bars
    sweep = {
        "base": {"distractors=0": 0.5, "distractors=4": 0.2},
        "tuned": {"distractors=0": 0.9, "distractors=4": 0.8},
    }
    line = charts.lines("Sweep", sweep, "distractors=")
    assert line.count("<polyline") == 2 and "nan" not in line.lower()
    assert charts.lines("Sweep", sweep, "position=") == ""


def test_an_evaluated_item_shows_the_quotes_in_their_documents(client: TestClient, tmp_path: Path) -> None:
    from groundtune.core.schemas import ContextDocument, EvalRecord, Example, GroundedAnswer, Quote

    suite, run = "dataset:d:test", tmp_path / "gt-home" / "runs" / "eval_0123"
    (run / "records" / "dataset_d_test").mkdir(parents=True)
    (run / "items").mkdir()
    docs = [
        ContextDocument(title="Fares", text="A dog ticket costs £3.00 on the day.", relevant=True),
        ContextDocument(title="Parking", text="Parking is free.", relevant=False),
    ]
    item = Example(id="q1", question="How much is a dog ticket?", documents=docs, answer="£3.00")
    (run / "items" / "dataset_d_test.jsonl").write_text(item.model_dump_json() + "\n")
    parsed = GroundedAnswer(
        relevant=[1],
        quotes=[Quote(doc=1, text="costs £3.00"), Quote(doc=2, text="invented")],
        answer="£3.00 [1]",
        citations=[1],
    )
    record = EvalRecord(example_id="q1", model="tuned", prompt="p", output="o", parsed=parsed)
    (run / "records" / "dataset_d_test" / "tuned.jsonl").write_text(record.model_dump_json() + "\n")
    report = {"id": "eval_0123", "created": "2026-01-01T00:00:00Z", "groundtune_version": "0", "model": "m",
              "systems": [{"name": "tuned", "adapter": "tuned"}], "suites": {suite: {"tuned": {"answer_f1": 1.0}}}}  # fmt: skip
    (run / "report.json").write_text(__import__("json").dumps(report))
    twin = client.get("/v1/evaluations/eval_0123/items/q1").json()
    quotes = twin["outputs"][0]["quotes"]
    assert (quotes[0]["start"], quotes[0]["end"]) == (13, 24) and quotes[1]["start"] is None
    assert twin["answer"] == "£3.00" and twin["documents"][0]["title"] == "Fares"
    page = client.get("/evaluations/eval_0123/items/q1")
    assert page.status_code == 200 and '<mark class="quote">costs £3.00</mark>' in page.text
    assert "is not verbatim" in page.text and 'id="gold">£3.00' in page.text
    assert client.get("/evaluations/eval_0123").status_code == 200
    assert "How much is a dog ticket?" in client.get("/evaluations/eval_0123/items").text


def test_the_training_form_starts_at_the_recipes_values(client: TestClient) -> None:
    """What decides where training starts and how long it runs is on the form, at the recipe's value:
    the default recipe continues the shipped general adapter (`init_adapter: auto`)."""
    from groundtune.ui.forms import recipes

    recipe = recipes("train")["default"]
    page = client.get("/fine_tuning/new?recipe=default").text
    for name in ("init_adapter", "max_minutes", "reserve_steps", "precision", "decision_weight"):
        assert f'data-path="{name}"' in page, name
    assert recipe["init_adapter"] == "auto"
    assert 'data-path="init_adapter" data-type="text" value="auto"' in page
