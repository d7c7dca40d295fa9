"""The enumerated words of the registry: badge kinds and states, job states, outcomes and verdicts, roles and
visibilities, each defined here and nowhere else.

Every one is a :class:`enum.StrEnum`: a member *is* its string, so it compares equal to the text, is written to
JSON and to the database as that text, and the wire format does not change. Validators take
:func:`values` of an enumeration.
"""

from enum import StrEnum


def values(enumeration: type[StrEnum]) -> list[str]:
    """The strings of an enumeration, in the order it declares them (for ``validate.OneOf`` and messages)."""
    return [member.value for member in enumeration]


class BadgeKind(StrEnum):
    """The badge images a version has (``/badges/NAME/VERSION.svg?kind=...``)."""

    COMBINED = "combined"
    AVAILABLE = "available"
    FUNCTIONAL = "functional"
    REPRODUCED = "reproduced"
    CHECKLIST = "checklist"


class ReproducedState(StrEnum):
    """What the latest trusted verification that ran to completion found."""

    REPRODUCED = "reproduced"
    FAILED = "failed"
    NOT_VERIFIED = "not verified"


class ChecklistState(StrEnum):
    COMPLETE = "complete"
    WARNINGS = "warnings"
    INCOMPLETE = "incomplete"


class Verdict(StrEnum):
    """How one claim fared in a verification."""

    HELD = "held"
    FAILED = "failed"
    MISSING = "missing"


class Outcome(StrEnum):
    """How a whole verification ended."""

    REPRODUCED = "reproduced"
    CLAIM_FAILED = "claim_failed"
    EVALUATION_FAILED = "evaluation_failed"


#: outcomes of an evaluation that ran to completion (its claims were judged): they make the functional badge
COMPLETED_OUTCOMES = (Outcome.REPRODUCED, Outcome.CLAIM_FAILED)


class VenueRole(StrEnum):
    """A member's place on a venue's artifact-evaluation committee."""

    CHAIR = "chair"
    REVIEWER = "reviewer"


class VerifierRole(StrEnum):
    """Who recorded a verification, fixed when it is submitted (see reproreg.services.badges)."""

    AUTHOR = "author"
    REFERENCE_WORKER = "reference-worker"
    CHAIR = VenueRole.CHAIR.value
    REVIEWER = VenueRole.REVIEWER.value
    COMMUNITY = "community"


#: the roles whose verifications earn badges: the registry's reference workers and the venue's committee
TRUSTED_ROLES = (VerifierRole.REFERENCE_WORKER, VerifierRole.CHAIR, VerifierRole.REVIEWER)


class ReleaseStage(StrEnum):
    """How far an artifact is released, in order: its owner only, anonymous review links, metadata public with files
    to approved requesters, everyone. ``visibility`` (private or public) is the older spelling of a stage."""

    PRIVATE = "private"
    REVIEW = "review"
    GATED = "gated"
    PUBLIC = "public"


#: the older name of the release stage (an artifact's ``visibility`` holds its stage)
Visibility = ReleaseStage

#: the stage whose files anyone, logged in or not, may fetch (and so the only one that can be "available")
PUBLIC_VISIBILITIES = (Visibility.PUBLIC,)


#: the stages in the order a release moves through them
STAGE_ORDER = (ReleaseStage.PRIVATE, ReleaseStage.REVIEW, ReleaseStage.GATED, ReleaseStage.PUBLIC)
#: stages whose metadata, claims and verifications anyone may read (files: see reproreg.services.access)
METADATA_PUBLIC_STAGES = (ReleaseStage.GATED, ReleaseStage.PUBLIC)


class ReleaseRisk(StrEnum):
    """The author's (or a venue chair's) assessment of an artifact's risk; high puts it behind the ethics gate."""

    NORMAL = "normal"
    HIGH = "high"


class AccessRequestState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class ClaimKind(StrEnum):
    """What a claim measures, when it is not plain accuracy (``kind`` in a claim)."""

    BIAS = "bias"


class Accelerator(StrEnum):
    """What an evaluation runs on, and what a reference worker offers."""

    CPU = "cpu"
    GPU = "gpu"


class JobState(StrEnum):
    """A reference verification job: queued, leased (running), then one end state.

    succeeded: the job ran and recorded its verification, whatever it found (the job's outcome says what);
    failed: only on jobs recorded before that rule;
    error: the job could not complete (a worker reported a failure, or stopped responding on every attempt).
    """

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ERROR = "error"


#: the states a job never leaves
JOB_END_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.ERROR)


class LinkType(StrEnum):
    """How a version relates to another artifact (``links`` in the manifest); each is shown on both sides."""

    DETECTOR_FOR = "detector-for"
    FINE_TUNED_FROM = "fine-tuned-from"
    TRAINED_ON = "trained-on"
    SUPERSEDES = "supersedes"
