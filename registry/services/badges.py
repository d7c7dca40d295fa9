"""Badge states of a version, after the ACM artifact badges (v1.1):

- available: the artifact is public and every blob of the version is present in storage with its size;
  gated or private versions never show it.
- functional: a verification by someone other than the author ran the evaluation to completion.
- reproduced: the latest verification by someone other than the author (a reviewer or a reference worker)
  found every claim held. A later failed verification is shown as "failed", never hidden behind an earlier
  success. The author's own verifications never count.
- checklist: every checklist item is answered and none is contradicted by the files (CO1, CO3, CO4).
A yanked version keeps its states but is marked, and its badges turn grey.
"""

from registry.context import RegistryContext
from registry.models import Version
from registry.services.access import PUBLIC_VISIBILITIES
from registry.services.verifications import verifications_of
from schemas.checklist import ITEMS

TRUSTED_ROLES = ("reviewer", "reference-worker")
COMPLETED = ("reproduced", "claim_failed")


def badge_states(ctx: RegistryContext, session, version: Version) -> dict:
    trusted = [v for v in verifications_of(session, version) if v.role in TRUSTED_ROLES]
    completed = [v for v in trusted if v.outcome in COMPLETED]
    latest = completed[-1] if completed else None
    if latest is None:
        reproduced = "not verified"
    else:
        reproduced = "reproduced" if latest.outcome == "reproduced" else "failed"
    available = version.artifact.visibility in PUBLIC_VISIBILITIES and all(
        ctx.blobs.size(f.blob_digest) == f.size for f in version.files)
    answered = {answer.item for answer in version.checklist_answers}
    checklist = "complete" if answered >= set(ITEMS) and not version.checklist_warnings else (
        "warnings" if answered >= set(ITEMS) else "incomplete")
    return {
        "name": version.artifact.full_name, "version": version.version, "digest": version.digest,
        "yanked": version.yanked_at is not None,
        "available": available,
        "functional": bool(completed),
        "reproduced": reproduced == "reproduced",
        "reproduced_state": reproduced,
        "checklist": checklist == "complete",
        "checklist_state": checklist,
        "verifications": {"trusted": len(trusted), "held": sum(v.outcome == "reproduced" for v in completed),
                          "failed": sum(v.outcome == "claim_failed" for v in completed),
                          "latest_trusted_id": latest.id if latest else None},
    }
