"""Knowledge-base fixtures: a small document set on disk, KBs on the tiny embedder, and a real
PostgreSQL server started in a temporary directory for catalog tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

TINY = "tiny-random-minilm"
PG_BIN = Path("/usr/lib/postgresql/15/bin")

DOCS = {
    "warranty.md": "# Warranty policy\n\n## Coverage\nAll products carry a warranty of 24 months from the date of "
    "purchase. Batteries are covered for 12 months.\n\n## Exclusions\nWater damage is not covered. Accidental "
    "drops are not covered either.\n",
    "office.txt": "The office opens at 9 am and closes at 5 pm on weekdays. Visitors sign in at reception.\n",
    "returns.html": "<html><head><title>Returns</title><style>p{color:red}</style><script>var secret=1;</script>"
    "</head><body><nav>Home | About | Contact</nav><h1>Returns</h1><p>You can return items within 30 days "
    "of delivery.</p><h2>Refunds</h2><p>Refunds reach your card within 5 business days.</p>"
    "<footer>Copyright footer</footer></body></html>",
    "shipping.jsonl": '{"id": "ship-1", "title": "Shipping", "text": "Shipping takes 3 to 5 days within the '
    'country.", "tags": ["logistics"]}\n{"id": "ship-2", "title": "Express", "text": "Express shipping '
    'arrives the next day for an extra fee."}\n',
}


@pytest.fixture()
def docs_dir(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    for name, text in DOCS.items():
        (d / name).write_text(text)
    return d


@pytest.fixture()
def make_kb(tmp_path: Path) -> Iterator:
    """make_kb(name, **create_kwargs) -> open KnowledgeBase (closed at teardown)."""
    from groundtune import kb as kbmod

    opened = []

    def make(name: str = "t", **kw: object):
        kw.setdefault("embedder", TINY)
        kbmod.create(name, **kw)  # type: ignore[arg-type]
        kb = kbmod.open_kb(name)
        opened.append(kb)
        return kb

    yield make
    for kb in opened:
        kb.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL 15 server (initdb + pg_ctl) on a free port; skipped without binaries."""
    if not (PG_BIN / "initdb").exists() or (shutil.which("runuser") is None and os.geteuid() == 0):
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN} (install postgresql-15 to run catalog tests)")
    pytest.importorskip("psycopg", reason="psycopg is needed for the PostgreSQL catalog (dev extra)")
    # Outside pytest's 0700 tmp tree, which the postgres user could not enter.
    root = Path(tempfile.mkdtemp(prefix="gt-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    # initdb refuses to run as root: run the server as the `postgres` system user then.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if prefix:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    port = _free_port()
    subprocess.run(
        [*prefix, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *prefix,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-w",
            "start",
            "-o",
            f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off",
        ],
        check=True,
        capture_output=True,
    )
    try:
        import psycopg

        for _ in range(50):
            try:
                with psycopg.connect(
                    f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True
                ) as conn:
                    conn.execute("CREATE DATABASE gt_test")
                break
            except psycopg.OperationalError:
                time.sleep(0.2)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/gt_test"
    finally:
        subprocess.run(
            [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)
