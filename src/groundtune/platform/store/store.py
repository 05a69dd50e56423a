"""The platform store: jobs and their events, API keys, idempotency records and deployments in one SQL
database — SQLite at `<home>/platform.db` by default, PostgreSQL by URL, the same SQLAlchemy Core code.

Every state change is one conditional UPDATE (`… WHERE state = <the state it was read in>`) checked by
its row count, so two processes can never both move a job: exactly one claimer wins a queued job, and a
transition that lost a race is re-read and re-judged. On PostgreSQL the claim also skips rows another
claimer holds (`FOR UPDATE SKIP LOCKED`). It knows nothing about how jobs run.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, get_args

import sqlalchemy as sa

from groundtune.core.artifacts import (
    TERMINAL_STATES,
    ApiKey,
    ApiScope,
    Job,
    JobEvent,
    JobState,
    Page,
)
from groundtune.core.configs import DeploymentConfig
from groundtune.core.errors import ConflictError, InvalidInputError, NotFoundError, UnavailableError
from groundtune.core.ids import new_id
from groundtune.platform.jobs import kinds
from groundtune.platform.store import migrations
from groundtune.platform.store.tables import api_keys, deployments, idempotency, job_events, jobs

SCHEMA_VERSION: Final = len(migrations.MIGRATIONS)
DB_ENV: Final = "GROUNDTUNE_PLATFORM_DB"  # the store URL a server, its workers and the CLI share
MAX_LIMIT: Final = 100
IDEMPOTENCY_TTL_S: Final = 24 * 3600
DEPLOYMENT_STATUSES: Final = ("stopped", "running", "failed")

# state -> the states it may move to (claim moves queued -> running; reconcile moves running -> queued)
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "validating_files": frozenset({"queued", "failed", "cancelled"}),
    "queued": frozenset({"running", "failed", "cancelled"}),
    "running": frozenset({"succeeded", "failed", "cancelling", "cancelled", "queued"}),
    "cancelling": frozenset({"succeeded", "failed", "cancelled"}),
    "succeeded": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset(),
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _now() -> int:
    return int(time.time())


def _job(row: Any) -> Job:
    return Job(
        id=row.id, kind=row.kind, state=row.state, config=row.config, created_at=row.created_at,
        started_at=row.started_at, finished_at=row.finished_at, attempts=row.attempts, error=row.error,
        result=row.result, resource=row.resource,
    )  # fmt: skip


def _event(row: Any) -> JobEvent:
    return JobEvent(
        id=row.id, job_id=row.job_id, created_at=row.created_at, level=row.level, type=row.type,
        message=row.message, data=row.data or {},
    )  # fmt: skip


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id, name=row.name, scopes=row.scopes, prefix=row.prefix, created_at=row.created_at,
        last_used_at=row.last_used_at, revoked_at=row.revoked_at,
    )  # fmt: skip


def _deployment(row: Any) -> dict[str, Any]:
    return {
        "object": "deployment",
        "name": row.name,
        "config": row.config,
        "status": row.status,
        "error": row.error,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(
            f"limit must be between 1 and {MAX_LIMIT}, not {limit}",
            hint="page with `after`",
            code="invalid_limit",
        )
    return limit


def _hash_secret(salt: str, token: str) -> str:
    # The token is 256 random bits, so a salted sha256 is as strong as a slow hash and costs
    # microseconds on every authenticated request.
    return hashlib.sha256(bytes.fromhex(salt) + token.encode()).hexdigest()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the API) never wait for the workers' writes
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")  # an event of an unknown job is refused, as on PostgreSQL
    cur.close()


class Store:
    """The platform's registry at `url` (default `sqlite:///<home>/platform.db`), migrated on open.

    Methods return `core` types and raise NotFoundError, ConflictError or InvalidInputError. Safe to
    share between threads; many processes (API, runners, workers) may open the same database.
    """

    def __init__(self, url: str | None = None, *, home: Path) -> None:
        self.home = Path(home)
        if url is None:
            self.home.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{self.home / 'platform.db'}"
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine = sa.create_engine(url, **kwargs)
            if url.startswith("sqlite"):
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            self.dialect = self.engine.dialect.name
            migrations.migrate(self.engine)
        except (
            sa.exc.OperationalError,
            sa.exc.InterfaceError,
            sa.exc.ArgumentError,
            ModuleNotFoundError,
        ) as exc:
            raise UnavailableError(
                f"cannot open the platform store at {sa.engine.make_url(url).render_as_string(hide_password=True)}"
                f": {str(exc).splitlines()[0]}",
                hint="check the database URL and that the server is running (PostgreSQL: "
                "postgresql+psycopg://user@host/db, needs `pip install groundtune[postgres]`)",
            ) from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """How many migrations this database has applied (SCHEMA_VERSION after opening)."""
        return len(migrations.applied(self.engine))

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    # ---- jobs ------------------------------------------------------------------------------------
    def create_job(self, kind: str, config: dict[str, Any], *, idempotency_key: str | None = None) -> Job:
        """Validate `config` against the kind's config type (InvalidInputError naming the field,
        nothing stored), record the job in `validating_files`, check the files it names, then queue
        it — or fail it with the files' problems. The same `idempotency_key` returns the same job."""
        typed = kinds.validate(kind, config)
        if idempotency_key is not None:
            found = self._job_by_key(idempotency_key)
            if found is not None:
                return self._same_request(found, kind, typed)
        job_id = new_id("job")
        now = _now()
        row = {
            "id": job_id, "kind": kind, "state": "validating_files", "config": kinds.stored(kind, typed, job_id),
            "created_at": now, "updated_at": now, "attempts": 0, "idempotency_key": idempotency_key,
        }  # fmt: skip
        try:
            with self._tx() as conn:
                conn.execute(jobs.insert().values(**row))
                self._add_event(
                    conn, job_id, "state", "job created; validating files", data={"state": "validating_files"}
                )
        except sa.exc.IntegrityError:
            found = self._job_by_key(idempotency_key) if idempotency_key else None
            if found is None:
                raise
            return self._same_request(found, kind, typed)  # a concurrent twin won the race
        problems = kinds.check_files(kind, typed)
        if problems:
            return self.set_state(
                job_id,
                "failed",
                error={
                    "message": "; ".join(problems),
                    "type": "invalid_request_error",
                    "code": "invalid_file",
                },
            )
        return self.set_state(job_id, "queued")

    def _job_by_key(self, key: str) -> Job | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.idempotency_key == key)).first()
        return _job(row) if row else None

    def _same_request(self, job: Job, kind: str, typed: Any) -> Job:
        if job.kind != kind or job.config != kinds.stored(kind, typed, job.id):
            raise ConflictError(
                f"idempotency key already used for job {job.id} with a different request",
                hint="send a new Idempotency-Key for a new job",
                code="idempotency_key_reused",
            )
        return job

    def get_job(self, id: str) -> Job:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == id)).first()
        if row is None:
            raise NotFoundError(
                f"no job '{id}'", hint="list jobs with `groundtune jobs list`", code="job_not_found"
            )
        return _job(row)

    def list_jobs(
        self,
        *,
        kind: str | None = None,
        after: str | None = None,
        limit: int = 20,
        state: JobState | Sequence[JobState] | None = None,
    ) -> Page[Job]:
        """Jobs newest first; `after` is the last id of the previous page."""
        q = sa.select(jobs).order_by(jobs.c.id.desc()).limit(_limit(limit) + 1)
        if kind is not None:
            q = q.where(jobs.c.kind == kind)
        if after is not None:
            q = q.where(jobs.c.id < after)
        if state is not None:
            q = q.where(jobs.c.state.in_([state] if isinstance(state, str) else list(state)))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        items = [_job(r) for r in rows[:limit]]
        return Page[Job](
            data=items,
            has_more=len(rows) > limit,
            first_id=items[0].id if items else None,
            last_id=items[-1].id if items else None,
        )

    def count_jobs(self, *, state: JobState | Sequence[JobState] | None = None) -> int:
        """How many jobs are in `state` (any state when None)."""
        q = sa.select(sa.func.count()).select_from(jobs)
        if state is not None:
            q = q.where(jobs.c.state.in_([state] if isinstance(state, str) else list(state)))
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def claim_next_job(self, worker_id: str) -> Job | None:
        """Move the oldest queued job to `running` for `worker_id` (attempts + 1); None when none is
        queued. Atomic across processes: a job is claimed by exactly one caller."""
        for _ in range(20):
            with self._tx() as conn:
                q = sa.select(jobs.c.id).where(jobs.c.state == "queued").order_by(jobs.c.id).limit(1)
                if self.dialect == "postgresql":
                    q = q.with_for_update(skip_locked=True)
                job_id = conn.execute(q).scalar()
                if job_id is None:
                    return None
                claimed = self._claim(conn, job_id, worker_id)
            if claimed is not None:
                return claimed
        return None  # lost every race to other claimers: they are busy with the queue, try later

    def claim_job(self, id: str, worker_id: str) -> Job | None:
        """Claim this queued job (as `claim_next_job` does); None when it is not queued any more."""
        with self._tx() as conn:
            return self._claim(conn, id, worker_id)

    def _claim(self, conn: sa.Connection, job_id: str, worker_id: str) -> Job | None:
        now = _now()
        done = conn.execute(
            jobs.update()
            .where(jobs.c.id == job_id, jobs.c.state == "queued")
            .values(
                state="running", worker_id=worker_id, pid=None, heartbeat_at=now, updated_at=now,
                attempts=jobs.c.attempts + 1, started_at=sa.func.coalesce(jobs.c.started_at, now),
            )
        )  # fmt: skip
        if done.rowcount != 1:
            return None
        job = _job(conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).one())
        self._add_event(
            conn, job_id, "state", f"job claimed by {worker_id} (attempt {job.attempts})",
            data={"state": "running", "from": "queued", "attempt": job.attempts, "worker_id": worker_id},
        )  # fmt: skip
        return job

    def set_state(
        self,
        id: str,
        state: JobState,
        *,
        error: Mapping[str, Any] | None = None,
        result: Mapping[str, Any] | None = None,
        resource: str | None = None,
        message: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Job:
        """Move a job to `state` if the move is legal (ConflictError otherwise), with a `state` event
        (`message` and `data` added to it). Final states set `finished_at`; back to `queued` (a lost
        worker) forgets the worker and is a warning."""
        if state not in TRANSITIONS:
            raise InvalidInputError(
                f"unknown job state '{state}'", hint=f"use one of {', '.join(TRANSITIONS)}"
            )
        for _ in range(20):
            current = self.get_job(id)
            if state not in TRANSITIONS[current.state]:
                raise ConflictError(
                    f"job {id} is {current.state}; it cannot become {state}", code="invalid_state_transition"
                )
            now = _now()
            values: dict[str, Any] = {"state": state, "updated_at": now}
            if state in TERMINAL_STATES:
                values["finished_at"] = now
            if state == "queued":
                values.update(worker_id=None, pid=None, heartbeat_at=None)
            if error is not None:
                values["error"] = dict(error)
            if result is not None:
                values["result"] = dict(result)
            if resource is not None:
                values["resource"] = resource
            with self._tx() as conn:
                done = conn.execute(
                    jobs.update().where(jobs.c.id == id, jobs.c.state == current.state).values(**values)
                )
                if done.rowcount != 1:
                    continue  # it moved meanwhile: judge the move again from where it is now
                lost = state == "queued" and current.state == "running"  # a lost worker's job, requeued
                level = "error" if state == "failed" else "warning" if lost else "info"
                text = message or f"job {state}" + (f": {error.get('message')}" if error else "")
                event = {**(data or {}), "state": state, "from": current.state}
                self._add_event(conn, id, "state", text, level=level, data=event)
                return _job(conn.execute(sa.select(jobs).where(jobs.c.id == id)).one())
        raise ConflictError(f"job {id} keeps changing state; try again", code="busy")

    def heartbeat(self, id: str, worker_id: str, pid: int) -> Job:
        """Record that `worker_id`'s process `pid` is working on the job; returns the job, whose
        state tells the worker whether it is being cancelled."""
        with self._tx() as conn:
            conn.execute(
                jobs.update()
                .where(jobs.c.id == id, jobs.c.state.in_(["running", "cancelling"]))
                .values(worker_id=worker_id, pid=pid, heartbeat_at=_now())
            )
        return self.get_job(id)

    def worker_of(self, id: str) -> tuple[str | None, int | None, int | None]:
        """(worker_id, pid, heartbeat_at) of a job, for the runner's recovery."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(jobs.c.worker_id, jobs.c.pid, jobs.c.heartbeat_at).where(jobs.c.id == id)
            ).first()
        if row is None:
            raise NotFoundError(f"no job '{id}'", code="job_not_found")
        return row.worker_id, row.pid, row.heartbeat_at

    def request_cancel(self, id: str) -> Job:
        """Cancel a job: one not started yet is cancelled at once; a running one becomes `cancelling`
        (its runner stops the worker, which ends it as cancelled); a cancelling one is left as it is."""
        for _ in range(20):
            job = self.get_job(id)
            if job.state == "cancelling":
                return job
            if job.state in TERMINAL_STATES:
                raise ConflictError(
                    f"job {id} already {job.state}; only queued or running jobs can be cancelled",
                    code="job_finished",
                )
            target: JobState = "cancelling" if job.state == "running" else "cancelled"
            try:
                return self.set_state(id, target, message=f"cancel requested: job {target}")
            except ConflictError:
                continue  # it moved (claimed, finished) meanwhile: look again
        raise ConflictError(f"job {id} keeps changing state; try again", code="busy")

    # ---- events ----------------------------------------------------------------------------------
    def add_event(
        self,
        job_id: str,
        type: str,
        message: str,
        *,
        level: str = "info",
        data: Mapping[str, Any] | None = None,
    ) -> JobEvent:
        with self._tx() as conn:
            return self._add_event(conn, job_id, type, message, level=level, data=data)

    def _add_event(
        self,
        conn: sa.Connection,
        job_id: str,
        type: str,
        message: str,
        *,
        level: str = "info",
        data: Mapping[str, Any] | None = None,
    ) -> JobEvent:
        if type not in {"message", "progress", "state", "metrics"} or level not in {
            "info",
            "warning",
            "error",
        }:
            raise InvalidInputError(f"bad event type/level {type!r}/{level!r}")
        values = {
            "job_id": job_id, "created_at": _now(), "level": level, "type": type, "message": message,
            "data": dict(data or {}),
        }  # fmt: skip
        try:
            new = conn.execute(job_events.insert().values(**values)).inserted_primary_key
        except sa.exc.IntegrityError:  # the foreign key: no such job
            raise NotFoundError(f"no job '{job_id}'", code="job_not_found") from None
        assert new is not None
        return JobEvent(id=int(new[0]), **values)  # type: ignore[arg-type]

    def list_events(self, job_id: str, *, after: int | None = None, limit: int = 20) -> Page[JobEvent]:
        """A job's events oldest first; `after` is the last id already seen."""
        self.get_job(job_id)
        q = (
            sa.select(job_events)
            .where(job_events.c.job_id == job_id)
            .order_by(job_events.c.id)
            .limit(_limit(limit) + 1)
        )
        if after is not None:
            q = q.where(job_events.c.id > after)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        items = [_event(r) for r in rows[:limit]]
        return Page[JobEvent](
            data=items,
            has_more=len(rows) > limit,
            first_id=items[0].id if items else None,
            last_id=items[-1].id if items else None,
        )

    def follow_events(
        self, job_id: str, *, after: int | None = None, poll_s: float = 0.5
    ) -> Iterator[JobEvent]:
        """Every event after `after`, then new ones as they come, until the job has ended and its
        last event was yielded (a live log for `jobs events --follow` and server-sent events)."""
        while True:
            ended = self.get_job(job_id).state in TERMINAL_STATES  # read before the events: none is missed
            page = self.list_events(job_id, after=after, limit=MAX_LIMIT)
            yield from page.data
            if page.data:
                after = int(page.data[-1].id)
            if page.has_more:
                continue
            if ended:
                return
            time.sleep(poll_s)

    # ---- API keys --------------------------------------------------------------------------------
    def create_api_key(self, name: str, scopes: Sequence[ApiScope]) -> tuple[str, ApiKey]:
        """A new key: returns its secret (shown once; only a salted hash is stored) and its record."""
        if not name or not name.strip():
            raise InvalidInputError("an API key needs a name", hint="e.g. --name ci", code="invalid_name")
        known = get_args(ApiScope)
        bad = [s for s in scopes if s not in known]
        if not scopes or bad:
            raise InvalidInputError(
                f"bad scopes {bad or list(scopes)}",
                hint=f"give one or more of {', '.join(known)}",
                code="invalid_scope",
            )
        key_id = new_id("key")
        token = secrets.token_urlsafe(32)
        secret = f"gt-{key_id}.{token}"
        salt = secrets.token_hex(16)
        row = {
            "id": key_id, "name": name.strip(), "scopes": sorted(set(scopes), key=known.index),
            "prefix": secret[:16], "salt": salt, "hash": _hash_secret(salt, token), "created_at": _now(),
        }  # fmt: skip
        with self._tx() as conn:
            conn.execute(api_keys.insert().values(**row))
        return secret, self._get_key(key_id)

    def _get_key(self, key_id: str) -> ApiKey:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
        if row is None:
            raise NotFoundError(f"no API key '{key_id}'", hint="list keys with `groundtune server keys list`")
        return _key(row)

    def verify_api_key(self, secret: str) -> ApiKey | None:
        """The key this secret belongs to if it is valid and not revoked, else None."""
        if not secret.startswith("gt-") or "." not in secret:
            return None
        key_id, _, token = secret[3:].partition(".")
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(_hash_secret(row.salt, token), row.hash):
            return None
        now = _now()
        if row.last_used_at is None or now - row.last_used_at >= 60:  # not a write per request
            with self._tx() as conn:
                conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(last_used_at=now))
            return self._get_key(key_id)
        return _key(row)

    def list_api_keys(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            return [_key(r) for r in conn.execute(sa.select(api_keys).order_by(api_keys.c.id))]

    def revoke_api_key(self, id: str) -> ApiKey:
        self._get_key(id)
        with self._tx() as conn:
            conn.execute(
                api_keys.update()
                .where(api_keys.c.id == id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
        return self._get_key(id)

    # ---- idempotency -----------------------------------------------------------------------------
    def idempotency_lookup(self, key: str, method_path: str, body_hash: str) -> tuple[int, Any] | None:
        """The stored (status, body) of an earlier request with this key on this route, None if there
        was none (or it expired after 24 h); ConflictError when that request had another body."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(idempotency).where(
                    idempotency.c.key == key, idempotency.c.method_path == method_path
                )
            ).first()
        if row is None:
            return None
        if _now() - row.created_at > IDEMPOTENCY_TTL_S:
            with self._tx() as conn:
                conn.execute(
                    idempotency.delete().where(
                        idempotency.c.key == key, idempotency.c.method_path == method_path
                    )
                )
            return None
        if row.body_hash != body_hash:
            raise ConflictError(
                f"Idempotency-Key '{key}' was already used with a different request body",
                hint="send a new Idempotency-Key for a different request",
                code="idempotency_key_reused",
            )
        return int(row.status), row.body

    def idempotency_store(self, key: str, method_path: str, body_hash: str, status: int, body: Any) -> None:
        """Remember a response; a concurrent twin that stored first wins (its response stands)."""
        values = {
            "key": key, "method_path": method_path, "body_hash": body_hash, "status": status, "body": body,
            "created_at": _now(),
        }  # fmt: skip
        try:
            with self._tx() as conn:
                conn.execute(idempotency.insert().values(**values))
        except sa.exc.IntegrityError:
            self.idempotency_lookup(key, method_path, body_hash)  # raises if the bodies differ

    # ---- deployments -----------------------------------------------------------------------------
    def create_deployment(self, name: str, config: DeploymentConfig) -> dict[str, Any]:
        if not _NAME.match(name or ""):
            raise InvalidInputError(
                f"bad deployment name '{name}'",
                hint="use letters, digits, '.', '_' and '-' (it is the model name clients send)",
                code="invalid_name",
            )
        now = _now()
        try:
            with self._tx() as conn:
                conn.execute(
                    deployments.insert().values(
                        name=name, config=config.model_dump(mode="json"), status="stopped", error=None,
                        created_at=now, updated_at=now,
                    )
                )  # fmt: skip
        except sa.exc.IntegrityError:
            raise ConflictError(
                f"deployment '{name}' already exists",
                hint="pick another name or delete it first",
                code="name_taken",
            ) from None
        return self.get_deployment(name)

    def get_deployment(self, name: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(deployments).where(deployments.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"no deployment '{name}'", code="deployment_not_found")
        return _deployment(row)

    def list_deployments(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [_deployment(r) for r in conn.execute(sa.select(deployments).order_by(deployments.c.name))]

    def delete_deployment(self, name: str) -> dict[str, Any]:
        """Forget a deployment; returns its last record."""
        record = self.get_deployment(name)
        with self._tx() as conn:
            conn.execute(deployments.delete().where(deployments.c.name == name))
        return record

    def set_deployment_status(self, name: str, status: str, error: str | None = None) -> dict[str, Any]:
        if status not in DEPLOYMENT_STATUSES:
            raise InvalidInputError(
                f"unknown deployment status '{status}'", hint=f"use {DEPLOYMENT_STATUSES}"
            )
        self.get_deployment(name)
        with self._tx() as conn:
            conn.execute(
                deployments.update()
                .where(deployments.c.name == name)
                .values(status=status, error=error, updated_at=_now())
            )
        return self.get_deployment(name)
