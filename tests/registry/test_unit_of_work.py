"""One transaction per request and per command: the edge commits once, a failure leaves nothing, reads never
write, and a job is handed to a worker only once it is committed."""

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, update

from reproreg.errors import RegistryError
from reproreg.models import AuditEvent, User, VerificationJob
from reproreg.models.base import utcnow
from reproreg.services.auth import create_token, create_user
from reproreg.unit_of_work import after_commit, read_only, unit_of_work
from tests.registry.helpers import FILES, publish


def count_users(ctx, name: str) -> int:
    with ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(User).where(User.name == name))


def test_a_command_is_one_transaction_all_or_nothing(app):
    ctx = app.extensions["registry"]
    with pytest.raises(RuntimeError), unit_of_work(ctx.sessions) as session:
        create_token(session, create_user(session, "carol"))  # user, namespace, token and audit events
        raise RuntimeError("the command fails after the services did their part")
    assert count_users(ctx, "carol") == 0
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0
    with unit_of_work(ctx.sessions) as session:
        create_token(session, create_user(session, "carol"))
    assert count_users(ctx, "carol") == 1


def test_a_refusal_that_keeps_its_changes_commits_them_and_others_roll_back(app):
    ctx = app.extensions["registry"]
    with pytest.raises(RegistryError), unit_of_work(ctx.sessions) as session:
        create_user(session, "kept")
        raise RegistryError("BAD_REQUEST", "refused, but what was done stands").keeping_changes()
    with pytest.raises(RegistryError), unit_of_work(ctx.sessions) as session:
        create_user(session, "dropped")
        raise RegistryError("BAD_REQUEST", "refused")
    assert (count_users(ctx, "kept"), count_users(ctx, "dropped")) == (1, 0)


def test_after_commit_actions_run_after_the_commit_and_never_after_a_rollback(app):
    ctx = app.extensions["registry"]
    seen = []
    with unit_of_work(ctx.sessions) as session:
        create_user(session, "dora")
        after_commit(session, lambda: seen.append(count_users(ctx, "dora")))  # another connection sees the row
        assert seen == []
    with pytest.raises(RuntimeError), unit_of_work(ctx.sessions) as session:
        create_user(session, "eve")
        after_commit(session, lambda: seen.append("after a rollback"))
        raise RuntimeError
    assert seen == [1]


def test_a_read_only_transaction_refuses_orm_and_bulk_writes(app):
    ctx = app.extensions["registry"]
    with ctx.sessions() as session:
        read_only(session)
        session.add(User(name="frank"))
        with pytest.raises(RuntimeError, match="read-only"):
            session.flush()
        session.rollback()
        with pytest.raises(RuntimeError, match="read-only"):
            session.execute(update(User).values(is_worker=True))


@pytest.fixture
def exhausted_job(app, http, make_user):
    """A job whose worker died on its last allowed lease: failed, though no write has recorded it yet."""
    _, author = make_user("alice")
    _, worker = make_user("worker")
    ctx = app.extensions["registry"]
    with unit_of_work(ctx.sessions) as session:
        session.scalar(select(User).where(User.name == "worker")).is_worker = True
    assert publish(http, author, FILES).status_code == 201
    job = http.post("/api/v1/artifacts/alice/resnet/versions/1.0.0/jobs", headers=author).json
    with unit_of_work(ctx.sessions) as session:
        session.execute(update(VerificationJob).values(
            state="running", attempt=VerificationJob.max_attempts, lease_token="0" * 32, lease_owner="worker/w1",
            lease_expires_at=utcnow() - timedelta(seconds=5)))
    return job["id"], author, worker


def writes_during(engine, action) -> list[str]:
    statements = []

    def record(_conn, _cursor, statement, *_args):
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return statements


def test_gets_never_write_not_even_to_give_up_an_exhausted_job(app, http, exhausted_job):
    job_id, author, worker = exhausted_job
    ctx = app.extensions["registry"]
    answers = {}

    def read_everything():
        answers["runnable"] = http.get("/api/v1/jobs/runnable?accelerator=cpu&older_than_s=0", headers=worker)
        answers["job"] = http.get(f"/api/v1/jobs/{job_id}", headers=author)
        version = "/api/v1/artifacts/alice/resnet/versions/1.0.0"
        for path in ("/api/v1/whoami", "/api/v1/keys", "/api/v1/artifacts/alice/resnet", version,
                     f"{version}/verifications", f"{version}/badges", "/", "/?q=resnet", "/alice/resnet",
                     "/alice/resnet/1.0.0", "/badges/alice/resnet.svg", "/badges/alice/resnet/1.0.0.json"):
            assert http.get(path, headers=author).status_code < 400, path

    writes = writes_during(ctx.engine, read_everything)
    # the one write a read may cause is bookkeeping, in a transaction of its own: a token's last use
    assert [w for w in writes if "api_tokens" not in w] == []
    assert answers["runnable"].json["jobs"] == []  # its last lease expired: not runnable
    assert answers["job"].json["state"] == "error" and "3 attempts" in answers["job"].json["failure"]
    with ctx.sessions() as session:
        assert session.get(VerificationJob, job_id).state == "running"  # shown failed, not yet recorded


def test_the_next_lease_request_records_what_reads_showed(app, http, exhausted_job):
    job_id, _, worker = exhausted_job
    taken = http.post(f"/api/v1/jobs/{job_id}/lease", json={"worker": "w2", "accelerators": ["cpu"],
                                                           "hardware": "cpu=test"}, headers=worker)
    assert taken.status_code == 409
    with app.extensions["registry"].sessions() as session:
        job = session.get(VerificationJob, job_id)
        assert job.state == "error" and "3 attempts" in job.failure
        assert job.finished_at is not None and job.lease_token is None


class VisibilityCheckingDispatcher:
    """A dispatcher that, like a worker on another connection, looks the job up the moment it hears of it."""

    def __init__(self, sessions):
        self.sessions, self.seen = sessions, []

    def dispatch(self, job_id: str, accelerator: str, timeout_s: int, min_memory_gb: float | None = None) -> None:
        with self.sessions() as session:
            self.seen.append(session.get(VerificationJob, job_id) is not None)


def test_a_job_is_dispatched_only_once_it_is_committed(app, http, make_user):
    ctx = app.extensions["registry"]
    dispatcher = VisibilityCheckingDispatcher(ctx.sessions)
    ctx.dispatcher = dispatcher
    _, author = make_user("alice")
    assert publish(http, author, FILES).status_code == 201
    assert http.post("/api/v1/artifacts/alice/resnet/versions/1.0.0/jobs", headers=author).status_code == 201
    assert dispatcher.seen == [True]
    assert http.post("/api/v1/artifacts/alice/nothing/versions/1.0.0/jobs", headers=author).status_code == 404
    assert dispatcher.seen == [True]
