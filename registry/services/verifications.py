"""Signing keys and verification reports: a report is accepted only if its signature checks out against the
submitter's registered key and its verdicts follow from its measured values."""

import base64
import secrets

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.errors import RegistryError
from registry.models import SigningKey, User, Verification, Version
from registry.services import audit
from registry.services.access import owns_namespace, readable_artifact
from registry.services.jobs import attach_verification
from registry.services.versions import resolve_version
from schemas.errors import flatten_messages
from schemas.verdicts import judge, outcome
from schemas.verification import ReportSchema, decode_b64, hardware_summary, report_bytes

SIGNATURE_VALID = "valid"
SIGNATURE_KEY_REVOKED = "valid, key since revoked"


def register_key(session: Session, user: User | None, public_key: str, name: str | None) -> SigningKey:
    if user is None:
        raise RegistryError("UNAUTHORIZED", "registering a key needs a token: run 'regctl login'")
    try:
        Ed25519PublicKey.from_public_bytes(decode_b64(public_key, 32))
    except (ValidationError, ValueError) as err:
        raise RegistryError("VALIDATION_ERROR", f"public_key is not a base64 Ed25519 public key ({err})",
                            problems={"public_key": ["must be the base64 of a raw 32-byte Ed25519 public key"]}
                            ) from None
    key = SigningKey(id=secrets.token_hex(8), user_id=user.id, public_key=public_key, name=name)
    session.add(key)
    audit.record(session, user, "key.register", user.name, key_id=key.id)
    session.commit()
    return key


def role_of(user: User, version: Version) -> str:
    if owns_namespace(user, version.artifact.namespace) or version.published_by_id == user.id:
        return "author"
    return "reference-worker" if user.is_worker else "reviewer"


def submit(session: Session, user: User | None, full_name: str, reference: str, body: dict) -> Verification:
    if user is None:
        raise RegistryError("UNAUTHORIZED", "submitting a verification needs a token: run 'regctl login'")
    version = resolve_version(session, readable_artifact(session, user, full_name), reference)
    key = session.get(SigningKey, body["key_id"])
    if key is None or key.user_id != user.id or key.revoked_at is not None:
        raise RegistryError("INVALID_SIGNATURE", "the signing key is unknown, revoked, or not yours: run "
                            "'regctl keys create'", key_id=body["key_id"])
    check_signature(key.public_key, body["report"], body["signature"])
    report = _validated_report(body["report"])
    if report["digest"] != version.digest or report["name"] != full_name:
        raise RegistryError("INVALID_REPORT", f"the report checked {report['name']} {report['digest']}, not "
                            f"{full_name}@{version.version} ({version.digest})")
    _check_verdicts(report, version)
    verification = Verification(
        version_id=version.id, verifier_id=user.id, role=role_of(user, version), key_id=key.id,
        signature=body["signature"], digest=version.digest, outcome=report["outcome"], sandbox=report["sandbox"],
        hardware=hardware_summary(report["environment"])[:300],
        accelerator_used=str(report["environment"].get("accelerator_used", "cpu"))[:16],
        failure=report.get("failure"), report=body["report"])
    session.add(verification)
    session.flush()
    if report.get("job"):
        attach_verification(session, user, report["job"], body.get("lease"), verification)
    audit.record(session, user, "verification.submit", f"{full_name}@{version.version}",
                 verification_id=verification.id, outcome=verification.outcome, role=verification.role)
    session.commit()
    return verification


def check_signature(public_key: str, report: dict, signature: str) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key)).verify(
            decode_b64(signature, 64), report_bytes(report))
    except (InvalidSignature, ValidationError, ValueError, TypeError):
        raise RegistryError("INVALID_SIGNATURE", "the report's signature does not match its content and the "
                            "signing key; nothing was recorded") from None


def _validated_report(report: dict) -> dict:
    try:
        return ReportSchema().load(report)
    except ValidationError as err:
        problems = flatten_messages(err.messages)
        raise RegistryError("INVALID_REPORT", f"the report has {len(problems)} problem(s)",
                            problems=problems) from None


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
        "verifier": verification.verifier.name, "role": verification.role, "outcome": verification.outcome,
        "failure": verification.failure, "hardware": verification.hardware,
        "accelerator_used": verification.accelerator_used, "sandbox": verification.sandbox,
        "created_at": verification.created_at, "key_id": verification.key_id,
        "signature_status": signature_status(verification), "claims": report.get("claims", []),
        "environment": report.get("environment", {}), "report": report,
    }
