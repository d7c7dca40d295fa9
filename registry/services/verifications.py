"""Signing keys and verification reports.

A key is registered only with a signature over a fresh challenge the registry issued to that account (proof
that the account holds the private key), and a public key belongs to one account. A report is accepted only if
its signature checks out against the submitter's own key, it names the submitter as its verifier, it is fresh
(signed within the freshness window) and new (its signature and nonce were never recorded), and its verdicts
follow from its measured values. Who recorded it decides whether it can earn a badge: see
``reproreg.services.badges``."""

import base64
import secrets
from datetime import timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from marshmallow import ValidationError
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reproreg.errors import RegistryError
from reproreg.models import KeyChallenge, SigningKey, User, Verification, Version
from reproreg.models.base import utcnow
from reproreg.services import audit, badge_states
from reproreg.services.access import owns_namespace, readable_artifact
from reproreg.services.committees import role_in
from reproreg.services.jobs import attach_verification
from reproreg.services.versions import resolve_version
from reproreg_schemas.errors import flatten_messages
from reproreg_schemas.verdicts import judge, outcome
from reproreg_schemas.verification import (
    REPORT_VERSION,
    ReportSchema,
    decode_b64,
    hardware_summary,
    key_challenge_bytes,
    parse_signed_at,
    report_bytes,
)
from reproreg_schemas.vocabulary import TRUSTED_ROLES, VerifierRole

SIGNATURE_VALID = "valid"
SIGNATURE_KEY_REVOKED = "valid, key since revoked"
CHALLENGE_TTL = timedelta(minutes=5)
#: how far ahead of the registry's clock a report's signing time may be (clocks drift)
CLOCK_SKEW = timedelta(minutes=5)


def issue_challenge(session: Session, user: User | None) -> KeyChallenge:
    """A random challenge for ``user`` to sign with the key they register; single use, valid for 5 minutes."""
    if user is None:
        raise RegistryError("UNAUTHORIZED", "registering a key needs a token: run 'regctl login'")
    now = utcnow()
    session.execute(delete(KeyChallenge).where(KeyChallenge.user_id == user.id, KeyChallenge.expires_at < now))
    challenge = KeyChallenge(challenge=secrets.token_urlsafe(32), user_id=user.id, expires_at=now + CHALLENGE_TTL)
    session.add(challenge)
    session.flush()
    return challenge


def register_key(session: Session, user: User | None, public_key: str, name: str | None, challenge: str,
                 signature: str) -> SigningKey:
    if user is None:
        raise RegistryError("UNAUTHORIZED", "registering a key needs a token: run 'regctl login'")
    verifier = _public_key(public_key)
    _use_challenge(session, user, challenge)
    try:
        verifier.verify(decode_b64(signature, 64), key_challenge_bytes(challenge))
    except (InvalidSignature, ValidationError):
        raise RegistryError("INVALID_SIGNATURE", "the signature over the challenge does not match this public "
                            "key: only the holder of the private key can register it").keeping_changes() from None
    if session.scalar(select(SigningKey.id).where(SigningKey.public_key == public_key)) is not None:
        raise _key_in_use().keeping_changes()
    key = SigningKey(id=secrets.token_hex(8), user_id=user.id, public_key=public_key, name=name)
    session.add(key)
    audit.record(session, user, "key.register", user.name, key_id=key.id)
    try:
        session.flush()
    except IntegrityError:  # registered meanwhile by a concurrent request
        raise _key_in_use() from None
    return key


def _public_key(public_key: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(decode_b64(public_key, 32))
    except (ValidationError, ValueError) as err:
        raise RegistryError("VALIDATION_ERROR", f"public_key is not a base64 Ed25519 public key ({err})",
                            problems={"public_key": ["must be the base64 of a raw 32-byte Ed25519 public key"]}
                            ) from None


def _use_challenge(session: Session, user: User, challenge: str) -> None:
    """Spend the challenge (a refused registration keeps it spent: see ``register_key``); refuse a foreign, used
    or expired one."""
    spent = session.execute(delete(KeyChallenge).where(KeyChallenge.challenge == challenge,
                                                       KeyChallenge.user_id == user.id,
                                                       KeyChallenge.expires_at > utcnow()))
    if spent.rowcount != 1:
        raise RegistryError("CHALLENGE_INVALID", "the challenge is unknown, used, expired or issued to another "
                            "account: ask for a new one (POST /api/v1/keys/challenge) and sign it")


def _key_in_use() -> RegistryError:
    return RegistryError("KEY_IN_USE", "this public key is registered already; a key belongs to one account: "
                         "make a new key with 'regctl keys create'")


def role_of(session: Session, user: User, version: Version) -> str:
    """The verifier's role for this version, from the committee as it stands now (see reproreg.services.badges)."""
    if owns_namespace(user, version.artifact.namespace) or version.published_by_id == user.id:
        return VerifierRole.AUTHOR
    if user.is_worker:
        return VerifierRole.REFERENCE_WORKER
    return role_in(session, user, version.venue) or VerifierRole.COMMUNITY


def submit(session: Session, user: User | None, full_name: str, reference: str, body: dict,
           max_age: timedelta) -> Verification:
    if user is None:
        raise RegistryError("UNAUTHORIZED", "submitting a verification needs a token: run 'regctl login'")
    version = resolve_version(session, readable_artifact(session, user, full_name), reference)
    key = session.get(SigningKey, body["key_id"])
    if key is None or key.user_id != user.id or key.revoked_at is not None:
        raise RegistryError("INVALID_SIGNATURE", "the signing key is unknown, revoked, or not yours: a report is "
                            "signed with the submitter's own key ('regctl keys create')", key_id=body["key_id"])
    check_signature(key.public_key, body["report"], body["signature"])
    report = _validated_report(body["report"])
    _check_bound_to(report, user, max_age)
    if report["digest"] != version.digest or report["name"] != full_name:
        raise RegistryError("INVALID_REPORT", f"the report checked {report['name']} {report['digest']}, not "
                            f"{full_name}@{version.version} ({version.digest})")
    _check_verdicts(report, version)
    signature = _canonical_signature(body["signature"])
    _check_not_recorded(session, signature, report["nonce"])
    verification = Verification(
        version_id=version.id, verifier_id=user.id, role=role_of(session, user, version), key_id=key.id,
        signature=signature, nonce=report["nonce"], digest=version.digest, outcome=report["outcome"],
        sandbox=report["sandbox"], hardware=hardware_summary(report["environment"])[:300],
        accelerator_used=str(report["environment"].get("accelerator_used", "cpu"))[:16],
        failure=report.get("failure"), report=body["report"])
    session.add(verification)
    try:
        session.flush()
    except IntegrityError:  # the same signature or nonce, recorded meanwhile by a concurrent request
        raise _replayed() from None
    if report.get("job"):
        attach_verification(session, user, report["job"], body.get("lease"), verification)
    audit.record(session, user, "verification.submit", f"{full_name}@{version.version}",
                 verification_id=verification.id, outcome=verification.outcome, role=verification.role)
    badge_states.refresh(session, version)
    session.flush()
    return verification


def check_signature(public_key: str, report: dict, signature: str) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key)).verify(
            decode_b64(signature, 64), report_bytes(report))
    except (InvalidSignature, ValidationError, ValueError, TypeError):
        raise RegistryError("INVALID_SIGNATURE", "the report's signature does not match its content and the "
                            "signing key; nothing was recorded") from None


def _validated_report(report: dict) -> dict:
    if report.get("report_version") != REPORT_VERSION:
        raise RegistryError("INVALID_REPORT", f"report version {report.get('report_version')!r} is not accepted: "
                            f"the registry takes version {REPORT_VERSION} reports, which name their verifier, a "
                            "nonce and the signing time; update regctl and verify again",
                            problems={"report_version": [f"must be {REPORT_VERSION}"]})
    try:
        return ReportSchema().load(report)
    except ValidationError as err:
        problems = flatten_messages(err.messages)
        raise RegistryError("INVALID_REPORT", f"the report has {len(problems)} problem(s)",
                            problems=problems) from None


def _check_bound_to(report: dict, user: User, max_age: timedelta) -> None:
    """The report names the submitting account as its verifier and was signed within the freshness window."""
    if report["verifier"] != user.name:
        raise RegistryError("FORBIDDEN", f"the report names {report['verifier']!r} as its verifier, not you "
                            f"({user.name}): a report is submitted by the account that made and signed it")
    signed_at, now = parse_signed_at(report["signed_at"]), utcnow()
    if signed_at < now - max_age:
        raise RegistryError("REPORT_EXPIRED", f"the report was signed at {report['signed_at']}, more than "
                            f"{_hours(max_age)} ago: verify again and submit the fresh report",
                            signed_at=report["signed_at"])
    if signed_at > now + CLOCK_SKEW:
        raise RegistryError("REPORT_EXPIRED", f"the report claims to be signed at {report['signed_at']}, in the "
                            "future: check this machine's clock", signed_at=report["signed_at"])


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} h"


def _canonical_signature(signature: str) -> str:
    """One spelling per signature, so that re-encoding the same bytes cannot slip past the replay check."""
    return base64.b64encode(decode_b64(signature, 64)).decode()


def _check_not_recorded(session: Session, signature: str, nonce: str) -> None:
    if session.scalar(select(Verification.id).where(or_(Verification.signature == signature,
                                                        Verification.nonce == nonce))) is not None:
        raise _replayed()


def _replayed() -> RegistryError:
    return RegistryError("REPORT_REPLAYED", "this report (its signature or its nonce) is recorded already; a "
                         "signed report counts once: verify again for a new report")


def _check_verdicts(report: dict, version: Version) -> None:
    """The verdicts must be what the registry's own judging gives for the measured values."""
    if report["failure"]:
        if report["outcome"] != "evaluation_failed":
            raise RegistryError("INVALID_REPORT", "a report with a failure must have the outcome evaluation_failed")
        return
    claims = [{"metric": c.metric, "dataset": c.dataset, "value": c.value, "tolerance": c.tolerance,
               "std": c.std, "n_runs": c.n_runs} for c in version.claims]
    expected = judge(claims, [run["metrics"] or {} for run in report["runs"]])
    given = [(c["metric"], c["dataset"], c["verdict"]) for c in report["claims"]]
    if given != [(c["metric"], c["dataset"], c["verdict"]) for c in expected] or report["outcome"] != outcome(expected):
        raise RegistryError("INVALID_REPORT", "the report's verdicts do not follow from its measured values and "
                            "the version's claims")


def verifications_of(session: Session, version: Version) -> list[Verification]:
    return list(session.scalars(select(Verification).where(Verification.version_id == version.id)
                                .order_by(Verification.created_at, Verification.id)))


def signature_status(verification: Verification) -> str:
    return SIGNATURE_KEY_REVOKED if verification.key.revoked_at is not None else SIGNATURE_VALID


def verification_document(verification: Verification) -> dict:
    report = verification.report
    return {
        "id": verification.id, "name": report["name"], "version": report["version"], "digest": verification.digest,
        "verifier": verification.verifier.name, "role": verification.role,
        "trusted": verification.role in TRUSTED_ROLES, "outcome": verification.outcome,
        "failure": verification.failure, "hardware": verification.hardware,
        "accelerator_used": verification.accelerator_used, "sandbox": verification.sandbox,
        "created_at": verification.created_at, "key_id": verification.key_id,
        "signature_status": signature_status(verification), "claims": report.get("claims", []),
        "environment": report.get("environment", {}), "report": report,
    }
