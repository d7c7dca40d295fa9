"""SQLAlchemy 2.x models. The database schema itself comes from the Alembic migrations."""

from registry.models.artifacts import (
    Artifact,
    Blob,
    ChecklistAnswer,
    Claim,
    EvaluationSpec,
    Version,
    VersionFile,
)
from registry.models.audit import AuditEvent
from registry.models.base import Base
from registry.models.jobs import VerificationJob
from registry.models.uploads import UploadSession
from registry.models.users import ApiToken, Namespace, User
from registry.models.venues import Venue, VenueMember
from registry.models.verifications import KeyChallenge, SigningKey, Verification

__all__ = [
    "ApiToken", "Artifact", "AuditEvent", "Base", "Blob", "ChecklistAnswer", "Claim", "EvaluationSpec",
    "KeyChallenge", "Namespace", "SigningKey", "UploadSession", "User", "Venue", "VenueMember", "Verification",
    "VerificationJob", "Version", "VersionFile",
]
