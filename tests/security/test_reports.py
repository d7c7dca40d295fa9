"""Forged, foreign, replayed and stale verification reports, and keys registered by someone who does not hold
them, submitted as an attacker would, on SQLite and PostgreSQL.

Only the registry's reference workers and the committee (chairs and reviewers) of the version's venue earn
badges; anyone else's report is a community report, counted and shown, never a badge.
"""

import base64
import secrets
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update

from reproreg.models import KeyChallenge
from reproreg.services.auth import create_token, create_user
from reproreg.services.venues import create_venue
from reproreg.unit_of_work import unit_of_work
from reproreg_schemas.verdicts import judge, outcome
from reproreg_schemas.verification import REPORT_VERSION, key_challenge_bytes, report_bytes
from tests.e2e.conftest import live, regctl_as, storage  # noqa: F401  (a registry process on each backend, regctl as a user)
from tests.factories import author_file
from tests.registry.helpers import FILES, digest_of, manifest_for, publish

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAME = "alice/resnet"
VERIFICATIONS = f"/api/v1/artifacts/{NAME}/versions/1.0.0/verifications"
BADGES = f"/api/v1/artifacts/{NAME}/versions/1.0.0/badges"
#: measurements that make every claim of the published version hold, or its top-1 claim fail
MEASURED = {"reproduced": {"top1": 0.953, "loss": 0.2}, "claim_failed": {"top1": 0.5, "loss": 0.2}}


class Reply(NamedTuple):
    status_code: int
    json: dict


class AppHttp:
    """Requests through Flask's test client."""

    def __init__(self, client):
        self.client = client

    def request(self, method: str, path: str, json=None, headers=None) -> Reply:
        response = self.client.open(path, method=method, json=json, headers=headers)
        return Reply(response.status_code, response.json)


class LiveHttp:
    """Requests over real HTTP to a registry process."""

    def __init__(self, url: str):
        self.url = url

    def request(self, method: str, path: str, json=None, headers=None) -> Reply:
        response = requests.request(method, self.url + path, json=json, headers=headers, timeout=60)
        return Reply(response.status_code, response.json())


class Verifier:
    """An account with its own Ed25519 key, registered the honest way (challenge, sign, register)."""

    def __init__(self, http, name: str, headers: dict):
        self.http, self.name, self.headers = http, name, headers
        self.private = Ed25519PrivateKey.generate()
        self.key_id = None

    @property
    def public_key(self) -> str:
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def challenge(self) -> str:
        response = self.http.request("POST", "/api/v1/keys/challenge", headers=self.headers)
        assert response.status_code == 201, response.json
        return response.json["challenge"]

    def prove(self, challenge: str, private: Ed25519PrivateKey | None = None) -> str:
        return base64.b64encode((private or self.private).sign(key_challenge_bytes(challenge))).decode()

    def register(self, public_key: str | None = None, **body):
        challenge = body.pop("challenge", None) or self.challenge()
        body = {"public_key": public_key or self.public_key, "name": "laptop", "challenge": challenge,
                "signature": self.prove(challenge), **body}
        return self.http.request("POST", "/api/v1/keys", json=body, headers=self.headers)

    def registered(self) -> "Verifier":
        response = self.register()
        assert response.status_code == 201, response.json
        self.key_id = response.json["id"]
        return self

    def report(self, measured: str = "reproduced", **fields) -> dict:
        """A made-up but self-consistent report: verdicts that follow from the invented measurements."""
        claims = author_file()["claims"]
        runs = [{"seed": seed, "exit_code": 0, "timed_out": False, "wall_time_s": 1.0, "stdout_tail": "",
                 "stderr_tail": "", "metrics": dict(MEASURED[measured]), "error": None, "limits": {}}
                for seed in range(3)]
        verdicts = judge(claims, [run["metrics"] for run in runs])
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        report = {"report_version": REPORT_VERSION, "name": NAME, "version": "1.0.0", "digest": self.digest(),
                  "verifier": self.name, "nonce": secrets.token_hex(16), "signed_at": now, "started_at": now,
                  "finished_at": now, "command": "python eval.py", "sandbox": "bubblewrap",
                  "environment": {"cpu": "made up", "cpu_count": 64, "accelerator_used": "cpu"},
                  "runs": runs, "claims": verdicts, "outcome": outcome(verdicts), "failure": None, "job": None}
        return {**report, **fields}

    def digest(self) -> str:
        return self.http.request("GET", f"/api/v1/artifacts/{NAME}/versions/1.0.0").json["digest"]

    def signed(self, report: dict, private: Ed25519PrivateKey | None = None, key_id: str | None = None) -> dict:
        signature = (private or self.private).sign(report_bytes(report))
        return {"report": report, "signature": base64.b64encode(signature).decode(), "key_id": key_id or self.key_id}

    def submit(self, submission: dict):
        return self.http.request("POST", VERIFICATIONS, json=submission, headers=self.headers)


@pytest.fixture
def registry(app, http, make_user):
    """alice publishes alice/resnet (venue neurips-2026, chaired by chair, with reviewer rev); outsider reviews
    another venue; gpu-node is a reference worker; mallory is anyone at all."""
    accounts = dict(make_user(name) for name in ("alice", "chair", "rev", "outsider", "mallory"))
    assert publish(http, accounts["alice"], FILES, name=NAME).status_code == 201
    with unit_of_work(app.extensions["registry"].sessions) as session:
        create_venue(session, "neurips-2026", "NeurIPS 2026", "chair")
        create_venue(session, "other-2026", "Other 2026", "chair")
        _, worker_secret = create_token(session, create_user(session, "gpu-node", is_worker=True))
    accounts["gpu-node"] = {"Authorization": f"Bearer {worker_secret}"}
    for venue, member in (("neurips-2026", "rev"), ("other-2026", "outsider")):
        response = http.post(f"/api/v1/venues/{venue}/members", json={"user": member, "role": "reviewer"},
                             headers=accounts["chair"])
        assert response.status_code in (200, 201), response.json
    return {name: Verifier(AppHttp(http), name, headers) for name, headers in accounts.items()}


def badges(http) -> dict:
    return http.get(BADGES).json


# --- who can earn a badge ---------------------------------------------------------------------------------

@pytest.mark.parametrize("measured", ["reproduced", "claim_failed"])
def test_anyones_self_signed_report_is_a_community_report_and_never_a_badge(http, registry, measured):
    mallory = registry["mallory"].registered()
    response = mallory.submit(mallory.signed(mallory.report(measured)))
    assert response.status_code == 201, response.json
    assert response.json["role"] == "community" and response.json["trusted"] is False

    states = badges(http)
    assert states["reproduced_state"] == "not verified" and not states["reproduced"] and not states["functional"]
    assert states["verifications"]["trusted"] == 0
    assert states["community"] == {"reports": 1, "reproduced": int(measured == "reproduced"),
                                   "claim_failed": int(measured == "claim_failed"), "evaluation_failed": 0}
    page = http.get(f"/{NAME}/1.0.0").get_data(as_text=True)
    assert "1 community report" in page and "not verified yet" in page


def test_a_reviewer_of_another_venue_is_community_too(http, registry):
    outsider = registry["outsider"].registered()
    assert outsider.submit(outsider.signed(outsider.report())).json["role"] == "community"
    assert badges(http)["reproduced_state"] == "not verified"


def test_the_venue_committee_and_the_reference_workers_earn_badges_and_the_author_never(http, registry):
    alice = registry["alice"].registered()
    assert alice.submit(alice.signed(alice.report())).json["role"] == "author"
    assert badges(http)["reproduced_state"] == "not verified"

    rev = registry["rev"].registered()
    recorded = rev.submit(rev.signed(rev.report("claim_failed")))
    assert recorded.status_code == 201 and recorded.json["role"] == "reviewer" and recorded.json["trusted"]
    assert badges(http)["reproduced_state"] == "failed" and badges(http)["functional"]

    worker = registry["gpu-node"].registered()
    assert worker.submit(worker.signed(worker.report())).json["role"] == "reference-worker"
    states = badges(http)
    assert states["reproduced"] and states["verifications"]["trusted"] == 2
    assert states["community"]["reports"] == 0  # the author's run is not a community report either


# --- keys bound to people ---------------------------------------------------------------------------------

def test_a_public_key_cannot_be_registered_without_its_private_key(registry):
    alice, mallory = registry["alice"].registered(), registry["mallory"]
    stolen = alice.public_key  # a public key is public: mallory knows it, not its private half

    bare = mallory.http.request("POST", "/api/v1/keys", json={"public_key": stolen, "name": "mine"},
                                headers=mallory.headers)
    assert bare.status_code == 422

    forged = mallory.register(stolen, signature=base64.b64encode(secrets.token_bytes(64)).decode())
    assert forged.status_code == 400 and forged.json["error"]["code"] == "INVALID_SIGNATURE"

    own_key_over_challenge = mallory.register(stolen)  # signed with mallory's key, not the one she registers
    assert own_key_over_challenge.json["error"]["code"] == "INVALID_SIGNATURE"

    # A report signature by alice is not a proof: the challenge is signed under a fixed context.
    challenge = mallory.challenge()
    posing = mallory.register(stolen, challenge=challenge,
                              signature=base64.b64encode(alice.private.sign(challenge.encode())).decode())
    assert posing.json["error"]["code"] == "INVALID_SIGNATURE"


def test_a_challenge_is_single_use_short_lived_and_the_requesters_own(app, registry):
    alice, mallory = registry["alice"], registry["mallory"]
    alices_challenge = alice.challenge()
    foreign = mallory.register(challenge=alices_challenge)
    assert foreign.status_code == 400 and foreign.json["error"]["code"] == "CHALLENGE_INVALID"

    challenge = mallory.challenge()
    assert mallory.register(challenge=challenge).status_code == 201
    again = Verifier(mallory.http, "mallory", mallory.headers)  # a second key over the spent challenge
    assert again.register(challenge=challenge).json["error"]["code"] == "CHALLENGE_INVALID"

    stale = mallory.challenge()
    with unit_of_work(app.extensions["registry"].sessions) as session:
        session.execute(update(KeyChallenge).where(KeyChallenge.challenge == stale)
                        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        session.commit()
    assert again.register(challenge=stale).json["error"]["code"] == "CHALLENGE_INVALID"


def test_a_public_key_belongs_to_one_account(registry):
    alice, mallory = registry["alice"].registered(), registry["mallory"]
    mallory.private = alice.private  # even holding the private key, a second account cannot take it over
    taken = mallory.register()
    assert taken.status_code == 409 and taken.json["error"]["code"] == "KEY_IN_USE"
    assert alice.register().json["error"]["code"] == "KEY_IN_USE"


# --- reports bound to people ------------------------------------------------------------------------------

def test_a_replayed_report_is_refused_and_recorded_once(http, registry):
    rev = registry["rev"].registered()
    submission = rev.signed(rev.report())
    assert rev.submit(submission).status_code == 201
    replay = rev.submit(submission)
    assert replay.status_code == 409 and replay.json["error"]["code"] == "REPORT_REPLAYED"

    respelled = dict(submission, signature=_respelled(submission["signature"]))
    assert rev.submit(respelled).json["error"]["code"] == "REPORT_REPLAYED"

    same_nonce = rev.report(nonce=submission["report"]["nonce"], started_at="2026-01-01T00:00:00+00:00")
    reused = rev.submit(rev.signed(same_nonce))
    assert reused.status_code == 409 and reused.json["error"]["code"] == "REPORT_REPLAYED"
    assert len(http.get(VERIFICATIONS).json) == 1 and badges(http)["verifications"]["trusted"] == 1


def _respelled(signature: str) -> str:
    """The same 64 bytes in another base64 spelling (the unused low bits of the last character set)."""
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".index(signature[-3])
    return signature[:-3] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[last | 1] + "=="


def test_a_report_naming_another_verifier_is_refused(http, registry):
    mallory = registry["mallory"].registered()
    posing = mallory.submit(mallory.signed(mallory.report(verifier="rev")))  # rev sits on the committee
    assert posing.status_code == 403 and posing.json["error"]["code"] == "FORBIDDEN"
    assert "rev" in posing.json["error"]["message"] and http.get(VERIFICATIONS).json == []


def test_a_report_signed_with_someone_elses_key_is_refused(http, registry):
    rev, mallory = registry["rev"].registered(), registry["mallory"].registered()
    rev_signed = rev.signed(rev.report())
    as_mallory = mallory.submit(rev_signed)  # rev's report and key id, mallory's token
    assert as_mallory.status_code == 400 and as_mallory.json["error"]["code"] == "INVALID_SIGNATURE"

    under_own_key_id = mallory.submit(mallory.signed(mallory.report(), private=rev.private))
    assert under_own_key_id.json["error"]["code"] == "INVALID_SIGNATURE"
    assert http.get(VERIFICATIONS).json == []


@pytest.mark.parametrize("signed_at", [timedelta(hours=-25), timedelta(days=-400), timedelta(hours=2)])
def test_a_stale_or_future_report_is_refused(http, registry, signed_at):
    rev = registry["rev"].registered()
    moment = (datetime.now(UTC) + signed_at).isoformat(timespec="seconds")
    response = rev.submit(rev.signed(rev.report(signed_at=moment)))
    assert response.status_code == 422 and response.json["error"]["code"] == "REPORT_EXPIRED"
    assert http.get(VERIFICATIONS).json == []


@pytest.mark.parametrize("unbound", [
    {"report_version": 1},
    {"nonce": None}, {"nonce": "00" * 8}, {"signed_at": "yesterday"}, {"signed_at": "2026-01-01T00:00:00"},
    {"verifier": None},
])
def test_a_report_without_its_binding_is_refused(http, registry, unbound):
    rev = registry["rev"].registered()
    report = {key: value for key, value in rev.report(**unbound).items() if value is not None}
    response = rev.submit(rev.signed(report))
    assert response.status_code == 422 and response.json["error"]["code"] == "INVALID_REPORT"
    assert http.get(VERIFICATIONS).json == []


def test_the_same_report_sent_at_once_from_many_connections_is_recorded_once(live):  # noqa: F811
    author = {"Authorization": f"Bearer {live.create_user('alice')}"}
    _publish_live(live, author)
    rev = Verifier(LiveHttp(live.url), "rev", {"Authorization": f"Bearer {live.create_user('rev')}"})
    live.admin("venues", "create", "neurips-2026", "--title", "NeurIPS 2026", "--chair", "rev")
    submission = rev.registered().signed(rev.report())

    barrier, statuses = threading.Barrier(6), []

    def send():
        barrier.wait()
        statuses.append(requests.post(live.url + VERIFICATIONS, json=submission, headers=rev.headers,
                                      timeout=60).status_code)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [409] * 5
    assert len(requests.get(live.url + VERIFICATIONS, timeout=30).json()) == 1
    assert requests.get(live.url + BADGES, timeout=30).json()["verifications"]["trusted"] == 1


def _publish_live(registry, headers: dict) -> None:
    for data in FILES.values():
        state = requests.post(f"{registry.url}/api/v1/uploads", json={"digest": digest_of(data), "size": len(data)},
                              headers=headers, timeout=30).json()
        if not state["complete"]:
            requests.patch(f"{registry.url}/api/v1/uploads/{state['id']}", data=data, timeout=30,
                           headers={**headers, "Upload-Offset": str(state["offset"])}).raise_for_status()
    requests.put(f"{registry.url}/api/v1/artifacts/{NAME}/versions/1.0.0", headers=headers, timeout=30,
                 json={"manifest": manifest_for(FILES, name=NAME), "release": {"visibility": "public"}}
                 ).raise_for_status()


def test_regctl_verify_submit_by_someone_outside_the_committee_is_a_community_report(live, regctl_as,  # noqa: F811
                                                                                     tmp_path):
    author, stranger = regctl_as("demo"), regctl_as("stranger")
    assert author("push", EXAMPLES / "digits-logreg").code == 0
    assert stranger("keys", "create").code == 0
    result = stranger("verify", "demo/digits-logreg", "--yes", "--submit", "--json", "--workdir", tmp_path / "work")
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["verifier"] == "stranger" and len(report["nonce"]) >= 32 and report["signed_at"].endswith("Z")
    assert report["submitted"]["role"] == "community"
    states = requests.get(f"{live.url}/api/v1/artifacts/demo/digits-logreg/versions/1.0.0/badges").json()
    assert states["reproduced_state"] == "not verified" and states["community"]["reproduced"] == 1
