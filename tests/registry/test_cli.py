"""The admin commands, run as an operator runs them."""

import os
import subprocess
from types import SimpleNamespace

import click
import pytest
from sqlalchemy import func, select

from reproreg import cli
from reproreg.models import ApiToken, AuditEvent, Namespace, User
from tests.live import BIN


def run(database_url, *args, check=True):
    env = {**os.environ, "REGISTRY_DATABASE_URL": database_url}
    return subprocess.run([BIN / "registry", *args], env=env, capture_output=True, text=True, check=check)


def test_tokens_create_prints_only_the_token_and_revoke_stops_it(database_url, app, http):
    run(database_url, "users", "create", "carol")
    created = run(database_url, "tokens", "create", "carol", "--description", "laptop")
    lines = created.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rrt_")
    token = lines[0]
    assert http.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}).json["name"] == "carol"

    listing = run(database_url, "tokens", "list", "carol").stdout
    assert token not in listing and "laptop" in listing
    token_id = listing.split()[0]
    run(database_url, "tokens", "revoke", token_id)
    assert http.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_admin_errors_are_one_line(database_url):
    run(database_url, "users", "create", "carol")
    again = run(database_url, "users", "create", "carol", check=False)
    assert again.returncode == 4 and again.stderr.strip() == "error: the name 'carol' is taken"
    bad = run(database_url, "users", "create", "Not Valid", check=False)
    assert bad.returncode == 4 and "Traceback" not in bad.stderr
    missing = run(database_url, "tokens", "create", "nobody", check=False)
    assert missing.returncode == 4 and "no user named 'nobody'" in missing.stderr


def test_a_user_its_namespace_and_its_audit_event_are_committed_together(database_url, app):
    run(database_url, "users", "create", "carol", "--worker")
    with app.extensions["registry"].sessions() as session:
        user = session.scalar(select(User).where(User.name == "carol"))
        assert user is not None and user.is_worker
        assert session.scalar(select(Namespace).where(Namespace.name == "carol")).owner_id == user.id
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "user.create",
                                                       AuditEvent.subject == "carol")) is not None


def test_serve_makes_the_embedded_executor_with_a_fresh_token_and_writes_no_environment(settings, app, http):
    environ_before = dict(os.environ)
    executor = cli._embedded_executor(settings, "http://127.0.0.1:9")
    again = cli._embedded_executor(settings, "http://127.0.0.1:9")  # a restart: the older token is revoked
    assert callable(executor.dispatch) and callable(executor.start)
    assert executor.identity.home == settings.blob_dir.parent / "worker"
    assert executor.identity.key_dir == settings.blob_dir.parent / "worker" / "keys"
    whoami = http.get("/api/v1/whoami", headers={"Authorization": f"Bearer {again.identity.token}"})
    assert whoami.status_code == 200 and whoami.json["name"] == "reference"
    assert http.get("/api/v1/whoami", headers={"Authorization": f"Bearer {executor.identity.token}"}
                    ).status_code == 401
    with app.extensions["registry"].sessions() as session:
        assert session.scalar(select(User).where(User.name == "reference")).is_worker
        assert session.scalar(select(func.count()).select_from(ApiToken)) == 2
    assert dict(os.environ) == environ_before


def test_without_the_worker_package_the_commands_say_so(monkeypatch):
    with pytest.raises(click.ClickException, match="reference worker is not installed"):
        cli._worker("no-such-kind")

    def broken(**_):
        return [SimpleNamespace(load=lambda: __import__("reproreg_worker_missing"))]

    monkeypatch.setattr("importlib.metadata.entry_points", lambda **selection: broken(**selection))
    with pytest.raises(click.ClickException, match="reproreg_worker_missing"):
        cli._worker("embedded")


def test_the_demo_token_is_kept_for_its_owner_and_reused_across_restarts(settings, app, http, capsys):
    import stat

    from reproreg.services.auth import revoke_tokens_described
    from reproreg.unit_of_work import unit_of_work

    def whoami(token: str):
        return http.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})

    url = "http://127.0.0.1:8080"
    first = cli._demo_user(settings, "demo", url)
    kept = settings.blob_dir.parent / "demo-token"
    assert kept.read_text().strip() == first and stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert f"export REGCTL_TOKEN={first}" in capsys.readouterr().err

    assert cli._demo_user(settings, "demo", url) == first  # a restart: the same token, still valid
    assert "the token kept from the last run" in capsys.readouterr().err
    assert whoami(first).json["name"] == "demo"
    with app.extensions["registry"].sessions() as session:
        demo = session.scalar(select(User).where(User.name == "demo"))
        assert session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.user_id == demo.id)) == 1

    with unit_of_work(app.extensions["registry"].sessions) as session:  # revoked: a new one is made and kept
        revoke_tokens_described(session, session.scalar(select(User).where(User.name == "demo")), "demo")
    second = cli._demo_user(settings, "demo", url)
    assert second != first and kept.read_text().strip() == second
    assert whoami(first).status_code == 401 and whoami(second).json["name"] == "demo"

    kept.write_text("rrt_" + "x" * 43 + "\n")  # a token of another database, or nonsense: replaced
    kept.chmod(0o644)
    third = cli._demo_user(settings, "demo", url)
    assert third not in (first, second) and whoami(third).status_code == 200
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600

    other = cli._demo_user(settings, "carol", url)  # another demo user never gets demo's token
    assert other != third and whoami(other).json["name"] == "carol"


def test_make_run_serves_where_port_and_host_say_and_documents_them():
    root = BIN.parent.parent
    makefile = (root / "Makefile").read_text()
    assert "make run PORT=" in makefile and "HOST=" in makefile and "var/demo-token" in makefile
    planned = subprocess.run(["make", "-n", "run", "PORT=9001", "HOST=0.0.0.0"], cwd=root, capture_output=True,
                             text=True, check=True).stdout
    assert "registry serve --demo --host 0.0.0.0 --port 9001" in planned
