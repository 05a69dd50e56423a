"""Platform fixtures: a store on SQLite and on a real PostgreSQL (a fresh database per test, on the
session's throwaway server), so every store test runs against both backends."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from groundtune.platform.store import Store

_counter = itertools.count()


def fresh_postgres_db(server_url: str) -> str:
    """A new empty database on the test server; returns its SQLAlchemy URL."""
    import psycopg

    base, _, _ = server_url.rpartition("/")
    name = f"gt_platform_{next(_counter)}"
    with psycopg.connect(server_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name}")
        c.execute(f"CREATE DATABASE {name}")
    return f"{base}/{name}"


@pytest.fixture()
def pg_url(postgres_url: str) -> str:
    return fresh_postgres_db(postgres_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """None (the default SQLite file in the home) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return fresh_postgres_db(request.getfixturevalue("postgres_url"))


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    return tmp_path / "gt-home"


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    """A tiny grounded dataset folder (train and validation) for the tiny random Gemma 3."""
    from tests.train.helpers import write_dataset

    return write_dataset(tmp_path / "ds", n_train=16, n_val=4)


@pytest.fixture()
def store(db_url: str | None, home: Path) -> Iterator[Store]:
    s = Store(db_url, home=home)
    yield s
    s.close()
