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

from sqlalchemy import select
from sqlalchemy.orm import Session

from reproreg.context import RegistryContext
from reproreg.models import Version, VersionState
from reproreg.services import badge_states as derived
from reproreg_schemas.vocabulary import ChecklistState, ReproducedState


def badge_states(ctx: RegistryContext | None, session: Session, version: Version) -> dict:
    """The version's badge states as stored (see ``reproreg.services.badge_states``); computed on the spot, without
    being stored, for a version whose states were never filled in (``registry states refresh`` fills them)."""
    row = session.get(VersionState, version.id)
    states = _columns(row) if row is not None else {**derived.compute(session, version), "revision": 0}
    return states_document(version.artifact.full_name, version.version, version.digest, states)


def states_document(name: str, version: str, digest: str, states) -> dict:
    """The badge states document of one version, from its stored states (a row, or a mapping of its columns)."""
    get = states.get if isinstance(states, dict) else (lambda key: getattr(states, key))
    return {
        "name": name, "version": version, "digest": digest,
        "yanked": get("yanked"),
        "available": get("available"),
        "functional": get("functional"),
        "reproduced": get("reproduced"),
        "reproduced_state": ReproducedState(get("reproduced_state")),
        "checklist": get("checklist"),
        "checklist_state": ChecklistState(get("checklist_state")),
        "checklist_answered": get("checklist_answered"),
        "checklist_items": get("checklist_items"),
        "claims": get("claims"),
        "verifications": {"trusted": get("trusted"), "held": get("held"), "failed": get("failed"),
                          "latest_trusted_id": get("latest_trusted_id")},
        "community": dict(get("community") or {}),
    }


def _columns(row: VersionState) -> dict:
    return {column: getattr(row, column) for column in (*derived.STATE_COLUMNS, "revision")}


def etag_of(session: Session, version_id: int) -> int | None:
    """The revision of a version's stored states (the badges' ETag), in one indexed lookup."""
    return session.scalar(select(VersionState.revision).where(VersionState.version_id == version_id))
