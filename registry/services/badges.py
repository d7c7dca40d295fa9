"""Badge states of a version, after the ACM artifact badges (v1.1); ACM badges are awarded by an
artifact-evaluation committee, not by whoever turns up.

Every verification is recorded with the role its verifier had for the version when it was submitted, decided
then from the committee of that moment (joining or leaving the committee later does not change it):

- "author": the owner of the version's namespace or its publisher. Never counts, whatever else the account is.
- "reference-worker": an account of the registry's own reference workers (``registry users create --worker``).
- "chair" / "reviewer": a member of the artifact-evaluation committee of the venue the version names
  (``paper.venue``).
- "community": anyone else. The report is kept and shown, with how many there are and their outcomes (the
  ``community`` counts below and the version page), but never earns or changes a badge.

Only trusted verifications (reference workers, chairs and reviewers) make the badges below:

- available: the artifact is public and every blob of the version is present in storage with its size;
  gated or private versions never show it.
- functional: a trusted verification ran the evaluation to completion.
- reproduced: the latest trusted verification that ran to completion found every claim held. A later failed
  one is shown as "failed", never hidden behind an earlier success.
- checklist: every checklist item is answered and none is contradicted by the files (CO1, CO3, CO4).
A yanked version keeps its states but is marked, and its badges turn grey.

A version may be a draft: its checklist partly answered (``checklist_answered`` of ``checklist_items``, state
"incomplete"), and with no claims (``claims`` 0: "no claims to verify", never reproduced nor failed) or no
evaluation. Such a version is published and shown like any other; it simply earns fewer badges.
"""

from reproreg.context import RegistryContext
from reproreg.models import Version
from reproreg.services.verifications import verifications_of
from reproreg_schemas.checklist import checklist_summary
from reproreg_schemas.vocabulary import (
    COMPLETED_OUTCOMES,
    PUBLIC_VISIBILITIES,
    TRUSTED_ROLES,
    ChecklistState,
    Outcome,
    ReproducedState,
    VerifierRole,
    values,
)


def badge_states(ctx: RegistryContext, session, version: Version) -> dict:
    recorded = verifications_of(session, version)
    trusted = [v for v in recorded if v.role in TRUSTED_ROLES]
    completed = [v for v in trusted if v.outcome in COMPLETED_OUTCOMES]
    latest = completed[-1] if completed else None
    if latest is None or not version.claims:  # with no claims there is nothing to reproduce
        reproduced = ReproducedState.NOT_VERIFIED
    else:
        reproduced = ReproducedState.REPRODUCED if latest.outcome == Outcome.REPRODUCED else ReproducedState.FAILED
    available = version.artifact.visibility in PUBLIC_VISIBILITIES and all(
        ctx.blobs.size(f.blob_digest) == f.size for f in version.files)
    summary = checklist_summary((answer.item for answer in version.checklist_answers),
                                version.checklist_warnings or [])
    checklist = summary["state"]
    return {
        "name": version.artifact.full_name, "version": version.version, "digest": version.digest,
        "yanked": version.yanked_at is not None,
        "available": available,
        "functional": bool(completed),
        "reproduced": reproduced == ReproducedState.REPRODUCED,
        "reproduced_state": reproduced,
        "checklist": checklist == ChecklistState.COMPLETE,
        "checklist_state": checklist,
        "checklist_answered": summary["answered"],
        "checklist_items": summary["items"],
        "claims": len(version.claims),
        "verifications": {"trusted": len(trusted), "held": sum(v.outcome == Outcome.REPRODUCED for v in completed),
                          "failed": sum(v.outcome == Outcome.CLAIM_FAILED for v in completed),
                          "latest_trusted_id": latest.id if latest else None},
        "community": community_counts([v for v in recorded if v.role == VerifierRole.COMMUNITY]),
    }


def community_counts(reports: list) -> dict:
    """How many community reports there are and what they found; shown, never a badge."""
    return {"reports": len(reports),
            **{outcome: sum(r.outcome == outcome for r in reports) for outcome in values(Outcome)}}
