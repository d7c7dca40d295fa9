"""Tokens with scopes and expiry: each request needs one scope, checked where the token is authenticated; a
refusal names the scope needed with a stable code; an expired token is refused as such."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from regctl.errors import EXIT_AUTH, InsufficientScope, TokenExpired, from_server
from reproreg.api import WRITE_SCOPES
from reproreg.errors import RegistryError
from reproreg.models import ApiToken, AuditEvent
from reproreg.models.base import utcnow
from reproreg.services.auth import allows, create_token, create_user, get_user, parse_expiry, parse_scopes
from reproreg.unit_of_work import unit_of_work
from tests.registry.helpers import FILES, digest_of, manifest_for, publish, register_key
from tests.registry.test_cli import run


@pytest.fixture
def token_for(app):
    """``token_for("alice", ["read"], expires_at=...)``: Authorization headers of a new token (the user is made
    on first use)."""
    registry = app.extensions["registry"]

    def make(name: str, scopes: list[str] | None = None, expires_at=None) -> dict:
        with unit_of_work(registry.sessions) as session:
            try:
                user = get_user(session, name)
            except RegistryError:
                user = create_user(session, name)
            _, secret = create_token(session, user, scopes=scopes, expires_at=expires_at)
        return {"Authorization": f"Bearer {secret}"}

    return make


def put_version(http, headers, **overrides):
    """Publish a version whose blobs are already uploaded (no uploads with these headers)."""
    manifest = manifest_for(FILES, **overrides)
    return http.put(f"/api/v1/artifacts/{manifest['name']}/versions/{manifest['version']}",
                    json={"manifest": manifest, "release": {"visibility": "public"}}, headers=headers)


def refused_for_scope(response, needed: str) -> None:
    assert response.status_code == 403, response.json
    error = response.json["error"]
    assert error["code"] == "INSUFFICIENT_SCOPE" and error["details"]["needed"] == needed
    assert needed in error["message"]


def test_a_read_token_reads_but_cannot_push_and_says_which_scope_was_needed(http, token_for):
    admin = token_for("alice")
    assert publish(http, admin, FILES, visibility="private").status_code == 201
    read = token_for("alice", ["read"])
    assert http.get("/api/v1/whoami", headers=read).json["name"] == "alice"
    assert http.get("/api/v1/artifacts/alice/resnet", headers=read).status_code == 200  # private: its owner's
    refused_for_scope(put_version(http, read, version="2.0.0"), "push:alice")
    refused_for_scope(http.post("/api/v1/uploads", json={"digest": digest_of(b"x"), "size": 1}, headers=read),
                      "push:*")
    refused_for_scope(http.post("/api/v1/artifacts/alice/resnet/versions/1.0.0/yank", json={"reason": "r"},
                                headers=read), "push:alice")
    refused_for_scope(http.post("/api/v1/keys/challenge", headers=read), "verify")


def test_a_push_scope_is_for_its_namespace_only(http, token_for):
    token_for("bob")
    push_alice = token_for("alice", ["push:alice"])
    assert publish(http, push_alice, FILES).status_code == 201
    assert http.post("/api/v1/artifacts/alice/resnet/versions/1.0.0/yank", json={"reason": "r"},
                     headers=push_alice).status_code == 200
    push_other = token_for("alice", ["push:bob"])  # a scope for a namespace alice does not own grants nothing more
    refused_for_scope(put_version(http, push_other, version="1.1.0"), "push:alice")
    everywhere = token_for("alice", ["push:*"])
    assert publish(http, everywhere, FILES, version="1.2.0").status_code == 201
    refused_for_scope(http.post("/api/v1/keys/challenge", headers=push_alice), "verify")


def test_a_verify_token_registers_keys_and_requests_jobs_but_cannot_push(http, token_for):
    assert publish(http, token_for("alice"), FILES).status_code == 201
    verify = token_for("rev", ["verify"])
    register_key(http, verify)
    own = token_for("alice", ["verify"])
    job = http.post("/api/v1/artifacts/alice/resnet/versions/1.0.0/jobs", headers=own)
    assert job.status_code in (200, 201, 202, 409) and "INSUFFICIENT_SCOPE" not in str(job.json), job.json
    refused_for_scope(http.post("/api/v1/artifacts/alice/resnet/versions/1.0.0/jobs",
                                headers=token_for("alice", ["read"])), "verify")
    refused_for_scope(put_version(http, verify, name="rev/resnet"), "push:rev")


def test_tokens_without_a_scope_keep_full_power(http, token_for, app):
    admin = token_for("alice")
    assert publish(http, admin, FILES).status_code == 201
    register_key(http, admin)
    with unit_of_work(app.extensions["registry"].sessions) as session:
        assert {token.scopes for token in session.scalars(select(ApiToken))} == {"admin"}


def test_writes_missing_from_the_table_need_admin(http, token_for, app):
    token_for("chair")
    from reproreg.services.venues import create_venue
    with unit_of_work(app.extensions["registry"].sessions) as session:
        create_venue(session, "neurips-2026", "NeurIPS 2026", "chair")
    token_for("rev")
    limited = token_for("chair", ["read", "verify", "push:chair"])
    refused_for_scope(http.post("/api/v1/venues/neurips-2026/members", json={"user": "rev", "role": "reviewer"},
                                headers=limited), "admin")


def test_every_endpoint_in_the_scope_table_exists_and_writes(app):
    writing = {rule.endpoint for rule in app.url_map.iter_rules()
               if rule.methods - {"GET", "HEAD", "OPTIONS"} and rule.rule.startswith("/api/v1")}
    assert set(WRITE_SCOPES) <= writing


def test_an_expired_token_is_refused_as_expired(http, token_for):
    expired = token_for("alice", expires_at=utcnow() - timedelta(seconds=1))
    response = http.get("/api/v1/whoami", headers=expired)
    assert response.status_code == 401 and response.json["error"]["code"] == "TOKEN_EXPIRED"
    assert "expired" in response.json["error"]["message"]
    live = token_for("alice", expires_at=utcnow() + timedelta(hours=1))
    assert http.get("/api/v1/whoami", headers=live).status_code == 200
    # pages treat an expired token as no token: public pages still show
    assert http.get("/", headers=expired).status_code == 200


def test_scopes_and_durations_are_validated():
    assert parse_scopes(None) == ["admin"] and parse_scopes(["read", "read", "push:alice"]) == ["read", "push:alice"]
    for wrong in ("write", "push:", "push:Alice", "push:a/b", "admin "):
        with pytest.raises(RegistryError) as caught:
            parse_scopes([wrong])
        assert caught.value.code == "VALIDATION_ERROR"
    now = utcnow()
    assert parse_expiry("30d", now) == now + timedelta(days=30)
    assert parse_expiry("90m", now) == now + timedelta(minutes=90)
    assert parse_expiry("2w", now) == now + timedelta(weeks=2)
    assert parse_expiry(None) is None and parse_expiry("never") is None
    for wrong in ("0d", "30", "d", "-1d", "1y", "1.5h"):
        with pytest.raises(RegistryError):
            parse_expiry(wrong)


@pytest.mark.parametrize("scopes, needed, allowed", [
    (["admin"], "push:alice", True), (["read"], "read", True), (["verify"], "read", True),
    (["read"], "verify", False), (["read"], "push:alice", False), (["push:alice"], "push:alice", True),
    (["push:bob"], "push:alice", False), (["push:*"], "push:alice", True), (["push:bob"], "push:*", True),
    (["verify"], "push:*", False), (["verify", "push:alice"], "verify", True), (["push:*"], "admin", False),
])
def test_what_each_scope_allows(scopes, needed, allowed):
    assert allows(scopes, needed) is allowed


def test_regctl_maps_the_codes_to_its_auth_exit_code_and_names_the_scope():
    error = from_server("INSUFFICIENT_SCOPE", "refused", {"needed": "push:alice"})
    assert isinstance(error, InsufficientScope) and error.exit_code == EXIT_AUTH
    assert "push:alice" in error.message
    expired = from_server("TOKEN_EXPIRED", "the token expired", {})
    assert isinstance(expired, TokenExpired) and expired.exit_code == EXIT_AUTH


def test_tokens_create_takes_scopes_and_an_expiry(database_url, app, http):
    run(database_url, "users", "create", "carol")
    created = run(database_url, "tokens", "create", "carol", "--scope", "read", "--scope", "push:carol",
                  "--expires", "30d")
    token = created.stdout.strip()
    assert "scope read push:carol" in created.stderr and "expires " in created.stderr
    with unit_of_work(app.extensions["registry"].sessions) as session:
        row = session.scalar(select(ApiToken).where(ApiToken.display_prefix == token[:10]))
        assert row.scopes == "read push:carol"
        assert timedelta(days=29, hours=23) < row.expires_at - utcnow() <= timedelta(days=30)
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "token.create"))
        assert event.details["scopes"] == ["read", "push:carol"]
    listing = run(database_url, "tokens", "list", "carol").stdout
    assert "read push:carol" in listing and "until " in listing
    refused_for_scope(http.post("/api/v1/keys/challenge", headers={"Authorization": f"Bearer {token}"}), "verify")
    bad = run(database_url, "tokens", "create", "carol", "--scope", "write", check=False)
    assert bad.returncode == 4 and "unknown scope 'write'" in bad.stderr and not bad.stdout
    bad = run(database_url, "tokens", "create", "carol", "--expires", "soon", check=False)
    assert bad.returncode == 4 and "expiry 'soon'" in bad.stderr
