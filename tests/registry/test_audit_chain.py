"""The audit log is one hash chain: built by real requests it checks out; one altered, deleted or reordered row
is found; concurrent appends never fork it; entries from before the chain are chained by the migration."""

import threading

import pytest
from sqlalchemy import create_engine, select, text

from reproreg.db import make_engine, make_session_factory
from reproreg.models import AuditEvent
from reproreg.models.audit import GENESIS_HASH, entry_hash
from reproreg.services import audit
from reproreg.services.audit import verify_chain
from reproreg.unit_of_work import unit_of_work
from reproreg_migrations import upgrade
from tests.registry.helpers import FILES, publish
from tests.registry.test_cli import run


@pytest.fixture
def logged(app, http, make_user):
    """A log written by real requests: users and tokens, publishes, visibility changes, a yank."""
    _, alice = make_user("alice")
    make_user("bob")
    assert publish(http, alice, FILES).status_code == 201
    assert publish(http, alice, {**FILES, "eval.py": b"print(2)\n"}, version="1.1.0",
                   visibility="private").status_code == 201
    assert http.post("/api/v1/artifacts/alice/resnet/versions/1.0.0/yank", json={"reason": "wrong weights"},
                     headers=alice).status_code == 200
    assert publish(http, alice, {**FILES, "eval.py": b"print(2)\n"}, version="1.1.0").status_code == 200  # public
    return app.extensions["registry"]


def check(registry):
    with unit_of_work(registry.sessions) as session:
        return verify_chain(session)


def execute(registry, sql: str, **params) -> None:
    with registry.engine.begin() as connection:
        connection.execute(text(sql), params)


def test_a_log_built_by_real_requests_is_intact_and_chained(logged):
    report = check(logged)
    assert report.intact, report.break_at
    with unit_of_work(logged.sessions) as session:
        rows = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    assert [row.seq for row in rows] == list(range(1, len(rows) + 1)) and len(rows) >= 8
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.entry_hash for earlier, later in zip(rows, rows[1:], strict=False))
    assert {"user.create", "token.create", "artifact.create", "version.publish", "artifact.stage",
            "version.yank"} <= {row.action for row in rows}
    assert report.entries == len(rows) and report.head_hash == rows[-1].entry_hash


@pytest.mark.parametrize("column, value", [("details", '{"digest": "sha256:forged"}'), ("subject", "alice/other"),
                                           ("action", "version.unyank"), ("actor_id", None)])
def test_one_altered_row_breaks_the_chain_at_that_row(logged, column, value):
    target = 5
    execute(logged, f"UPDATE audit_events SET {column} = :value WHERE seq = :seq", value=value, seq=target)
    report = check(logged)
    assert not report.intact and report.break_at["seq"] == target
    assert "altered" in report.break_at["problem"]


def test_an_altered_time_breaks_the_chain(logged):
    execute(logged, "UPDATE audit_events SET created_at = :moment WHERE seq = 3", moment="2020-01-01 00:00:00")
    assert check(logged).break_at["seq"] == 3


def test_a_rehashed_row_breaks_the_chain_at_the_next_row(logged):
    """Whoever alters a row and recomputes its own hash still breaks the link from the row after it."""
    with unit_of_work(logged.sessions) as session:
        row = session.scalar(select(AuditEvent).where(AuditEvent.seq == 4))
        row.subject = "alice/forged"
        from reproreg.models.audit import chain_time, details_digest
        actor = row.actor_id and session.execute(text("SELECT name FROM users WHERE id = :id"),
                                                 {"id": row.actor_id}).scalar()
        row.entry_hash = entry_hash(row.seq, chain_time(row.created_at), actor, row.action, row.subject,
                                    details_digest(row.details), row.prev_hash)
    report = check(logged)
    assert report.break_at["seq"] == 5 and "prev_hash" in report.break_at["problem"]


def test_a_deleted_row_breaks_the_chain_where_it_was(logged):
    execute(logged, "DELETE FROM audit_events WHERE seq = 4")
    report = check(logged)
    assert report.break_at["seq"] == 5 and "missing" in report.break_at["problem"]


def test_a_deleted_first_row_is_found(logged):
    execute(logged, "DELETE FROM audit_events WHERE seq = 1")
    assert check(logged).break_at["seq"] == 2


def test_two_reordered_rows_break_the_chain(logged):
    execute(logged, "UPDATE audit_events SET seq = -1 WHERE seq = 3")
    execute(logged, "UPDATE audit_events SET seq = 3 WHERE seq = 4")
    execute(logged, "UPDATE audit_events SET seq = 4 WHERE seq = -1")
    report = check(logged)
    assert report.break_at["seq"] == 3 and "prev_hash" in report.break_at["problem"]


def test_rows_moved_by_id_keep_the_chain_order_by_seq(logged):
    """The order is the chain's own (seq), not the table's row ids: renumbering ids changes nothing."""
    execute(logged, "UPDATE audit_events SET id = id + 1000")
    assert check(logged).intact


def test_the_cli_reports_intact_and_broken_chains_and_a_head_cut_off(logged, database_url):
    intact = run(database_url, "audit", "verify")
    assert intact.returncode == 0 and intact.stdout.startswith("intact: ")
    head = intact.stdout.split("head ")[1].strip()
    assert run(database_url, "audit", "verify", "--head", head).returncode == 0
    last = int(head.split(":")[0])
    execute(logged, "DELETE FROM audit_events WHERE seq = :seq", seq=last)  # cut off its end: the chain holds
    cut = run(database_url, "audit", "verify", "--head", head, check=False)
    assert cut.returncode == 3 and f"missing head {head}" in cut.stdout
    execute(logged, "UPDATE audit_events SET details = '{}' WHERE seq = 2")
    broken = run(database_url, "audit", "verify", check=False)
    assert broken.returncode == 3 and broken.stdout.startswith("broken at entry 2 ")
    bad = run(database_url, "audit", "verify", "--head", "nonsense", check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_a_rolled_back_change_leaves_no_entry_and_the_chain_goes_on(logged):
    with pytest.raises(RuntimeError), unit_of_work(logged.sessions) as session:
        audit.record(session, None, "test.change", "alice/resnet")
        raise RuntimeError("the change failed")
    with unit_of_work(logged.sessions) as session:
        audit.record(session, None, "test.change", "alice/resnet", n=2)
    report = check(logged)
    assert report.intact
    with unit_of_work(logged.sessions) as session:
        assert session.scalar(select(AuditEvent.details).where(AuditEvent.action == "test.change")) == {"n": 2}


def test_concurrent_appends_never_fork_the_chain(app):
    """Threads, each with its own connection and transaction, append at once; every entry gets its own place."""
    registry = app.extensions["registry"]
    threads_count, per_thread = 8, 15
    start = threading.Barrier(threads_count)
    errors = []

    def append(worker: int) -> None:
        start.wait()
        try:
            for index in range(per_thread):
                with unit_of_work(registry.sessions) as session:
                    audit.record(session, None, "test.append", f"w{worker}", index=index)
        except Exception as err:  # noqa: BLE001  (reported below)
            errors.append(err)

    threads = [threading.Thread(target=append, args=(worker,)) for worker in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = check(registry)
    assert report.intact, report.break_at
    assert report.entries == threads_count * per_thread


def test_the_migration_chains_entries_written_before_the_chain(database_url, request, tmp_path):
    """Rows of a log written before revision 0012 are chained in the order they were written."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("postgres").create()
    upgrade(url, "0011")
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (id, name, is_worker, created_at) VALUES (1, 'alice', false, "
                                ":at)"), {"at": "2026-01-01 10:00:00.123456"})
        for index, action in enumerate(("user.create", "token.create", "version.publish")):
            connection.execute(text("INSERT INTO audit_events (actor_id, action, subject, details, created_at) "
                                    "VALUES (:actor, :action, 'alice', :details, :at)"),
                               {"actor": 1 if index else None, "action": action, "details": f'{{"n": {index}}}',
                                "at": f"2026-01-01 10:00:0{index}.5"})
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            report = verify_chain(session)
            assert report.intact and report.entries == 3, report.break_at
            audit.record(session, None, "after.upgrade", "alice")
        with unit_of_work(make_session_factory(engine)) as session:
            report = verify_chain(session)
            assert report.intact and report.entries == 4
    finally:
        engine.dispose()


def test_the_artifact_log_is_served_with_what_is_needed_to_recheck_it(logged, http, make_user):
    from reproreg.models.audit import entry_hash

    served = http.get("/api/v1/artifacts/alice/resnet/audit")
    assert served.status_code == 200, served.json
    entries = served.json["entries"]
    assert [e["action"] for e in entries] == ["artifact.stage", "version.yank", "version.publish",
                                              "artifact.stage", "version.publish", "artifact.create"]
    assert all(e["subject"] in ("alice/resnet", "alice/resnet@1.0.0", "alice/resnet@1.1.0") for e in entries)
    for e in entries:  # every entry re-checks from what the API gives
        assert entry_hash(e["seq"], e["time"], e["actor"], e["action"], e["subject"], e["details_sha256"],
                          e["prev_hash"]) == e["entry_hash"]
    assert entries[0]["details"] == {"old": "private", "new": "public", "reason": "publish"}
    assert entries[1]["details"] == {"digest": entries[1]["details"]["digest"], "reason": "wrong weights"}
    assert "SHA-256" in served.json["chain"]
    # the token entries are about users, never in an artifact's log; nothing of another artifact either
    assert "token_id" not in served.get_data(as_text=True)
    page = http.get("/alice/resnet/1.0.0").get_data(as_text=True)
    assert 'id="audit"' in page and entries[0]["entry_hash"][:16] in page and "wrong weights" in page


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # access does not depend on the database
def test_the_log_of_a_private_artifact_is_its_readers_only(http, make_user, database_url):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    assert publish(http, alice, FILES, visibility="private").status_code == 201
    assert http.get("/api/v1/artifacts/alice/resnet/audit", headers=bob).status_code == 404
    assert http.get("/api/v1/artifacts/alice/resnet/audit").status_code == 404
    assert len(http.get("/api/v1/artifacts/alice/resnet/audit", headers=alice).json["entries"]) == 2


def test_hidden_details_still_chain(app):
    from reproreg.services.audit import artifact_log

    registry = app.extensions["registry"]
    with unit_of_work(registry.sessions) as session:
        audit.record(session, None, "version.publish", "alice/x@1.0.0", digest="sha256:1", secret_note="hidden")
    with unit_of_work(registry.sessions) as session:
        (entry,) = artifact_log(session, "alice/x")
    assert entry["details"] == {"digest": "sha256:1"} and entry["details_complete"] is False
    assert entry_hash(entry["seq"], entry["time"], entry["actor"], entry["action"], entry["subject"],
                      entry["details_sha256"], entry["prev_hash"]) == entry["entry_hash"]
    with unit_of_work(registry.sessions) as session:
        assert artifact_log(session, "alice/x_") == [] and artifact_log(session, "alice") == []


def test_appends_in_one_transaction_chain_without_flushing_the_callers_rows(app):
    """record() is like session.add: a row the caller added is written, and its constraints checked, at the
    caller's own flush (so the caller's 'taken meanwhile' handling still sees the conflict there)."""
    from sqlalchemy.exc import IntegrityError

    from reproreg.models import User

    registry = app.extensions["registry"]
    with unit_of_work(registry.sessions) as session:
        session.add(User(name="carol"))
    with pytest.raises(IntegrityError), unit_of_work(registry.sessions) as session:
        session.add(User(name="carol"))
        first = audit.record(session, None, "test.one", "carol")
        second = audit.record(session, None, "test.two", "carol")
        assert (first.seq, second.seq, second.prev_hash) == (1, 2, first.entry_hash)
        session.flush()
    with unit_of_work(registry.sessions) as session:
        for action in ("test.three", "test.four"):
            audit.record(session, None, action, "carol")
    report = check(registry)
    assert report.intact and report.entries == 2, report.break_at
