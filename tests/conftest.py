"""Test-wide settings: no hub access ever, and a throwaway workspace per test unless a test asks otherwise."""

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

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# Real models are converted once into the user's workspace (as `groundtune models pull` would) and reused.
PG_BIN = Path("/usr/lib/postgresql/15/bin")
MODEL_HOME = Path(os.environ.get("GROUNDTUNE_HOME") or Path.home() / ".groundtune")


@pytest.fixture(autouse=True)
def _workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "gt-home"
    monkeypatch.setenv("GROUNDTUNE_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def model_home() -> Path:
    """The workspace holding the converted Gemma cache (shared across the session)."""
    return MODEL_HOME


def shared_data(name: str) -> Path:
    """Path of a dataset in ../shared/data; skips the test with a clear reason when it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is not present (the shared datasets are provided beside the repository)")
    return path


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
