"""SQLAlchemy 2.x models. The database schema itself comes from the Alembic migrations."""

from reproreg.models.artifacts import (
    Artifact,
    Blob,
    ChecklistAnswer,
    Claim,
    EvaluationSpec,
    Version,
    VersionFile,
)
from reproreg.models.audit import AuditEvent
from reproreg.models.base import Base
from reproreg.models.jobs import VerificationJob
from reproreg.models.links import VersionLink
from reproreg.models.release import AccessRequest, ArtifactCollaborator, ReleasePlanStep, ReviewLink, ReviewLinkUse
from reproreg.models.storage import MultipartUpload
from reproreg.models.uploads import UploadSession
from reproreg.models.users import ApiToken, Namespace, User
from reproreg.models.venues import Venue, VenueMember
from reproreg.models.verifications import KeyChallenge, SigningKey, Verification
from reproreg.models.version_states import VersionState
from reproreg.models.workers import ReferenceWorker

__all__ = [
    "ApiToken", "Artifact", "AuditEvent", "Base", "Blob", "ChecklistAnswer", "Claim", "EvaluationSpec",
    "KeyChallenge", "MultipartUpload",
    "Namespace", "ReferenceWorker", "SigningKey", "UploadSession", "User", "Venue", "VenueMember",
    "Verification", "VerificationJob", "Version", "VersionFile",
    "VersionState",
    "VersionLink",
    "AccessRequest", "ReleasePlanStep", "ReviewLink", "ReviewLinkUse",
    "ArtifactCollaborator",
]
