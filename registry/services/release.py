"""Release stages, staged release plans, pauses and the ethics gate.

Every path that raises an artifact's stage (a publish asking for a stage, a plan step falling due, the owner
advancing early) passes :func:`missing_for_release`; a refusal is RELEASE_BLOCKED with ``missing`` naming each
item. Every change is audited and refreshes the stored badge states (available needs the public stage).
"""

from datetime import UTC, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from reproreg.errors import RegistryError
from reproreg.models import (
    Artifact,
    ReleasePlanStep,
    User,
    Venue,
    VenueMember,
    Verification,
    Version,
    VersionLink,
)
from reproreg.models.base import utcnow
from reproreg.services import audit, badge_states
from reproreg.services.access import find_artifact, owns_namespace, readable_artifact
from reproreg_schemas.vocabulary import (
    METADATA_PUBLIC_STAGES,
    STAGE_ORDER,
    TRUSTED_ROLES,
    ClaimKind,
    LinkType,
    ReleaseRisk,
    VenueRole,
    Verdict,
)

#: what the ethics gate can find missing, each with the sentence that tells the owner how to supply it
GATE_ITEMS = {
    "ethics_statement": "an ethics / broader-impact statement (ethics.statement in regctl.yaml)",
    "bias_claim": "a bias evaluation claim (a claim with kind: bias, e.g. a StereoSet score)",
    "bias_verification": "a trusted verification (a reference worker or the venue's committee) in which a bias "
                         "claim held",
    "detector": "a linked detector artifact, released (gated or public), whose version declares "
                "'detector-for' this artifact",
}


def rank(stage: str) -> int:
    return STAGE_ORDER.index(stage)


def owned_artifact(session: Session, user: User | None, full_name: str) -> Artifact:
    """The artifact if ``user`` owns it; NOT_FOUND when they cannot read it, FORBIDDEN when they only read it."""
    if user is None:
        raise RegistryError("UNAUTHORIZED", "this needs a token: run 'regctl login' or set REGCTL_TOKEN")
    artifact = readable_artifact(session, user, full_name)
    if not owns_namespace(user, artifact.namespace):
        raise RegistryError("FORBIDDEN", f"only the owner of {full_name} may change its release", name=full_name)
    return artifact


def _latest(session: Session, artifact: Artifact) -> Version | None:
    rows = session.scalars(select(Version).where(Version.artifact_id == artifact.id, Version.yanked_at.is_(None))
                           .order_by(Version.published_at.desc(), Version.id.desc()).limit(1))
    return rows.first()


def missing_for_release(session: Session, artifact: Artifact, target_stage: str) -> list[str]:
    """What the ethics gate still needs before ``artifact`` may reach ``target_stage`` (keys of GATE_ITEMS, in
    that order); empty when nothing is missing. Only a high-risk artifact going gated or public is gated."""
    if artifact.risk != ReleaseRisk.HIGH or target_stage not in METADATA_PUBLIC_STAGES:
        return []
    version = _latest(session, artifact)
    missing = []
    if version is None or not (version.ethics or {}).get("statement"):
        missing.append("ethics_statement")
    bias = [claim for claim in (version.claims if version else []) if claim.kind == ClaimKind.BIAS]
    if not bias:
        missing.extend(["bias_claim", "bias_verification"])
    elif not _bias_verified(session, version, bias):
        missing.append("bias_verification")
    if artifact.generative and not _has_detector(session, artifact):
        missing.append("detector")
    return missing


def _bias_verified(session: Session, version: Version, bias) -> bool:
    wanted = {(claim.metric, claim.dataset) for claim in bias}
    trusted = session.scalars(select(Verification).where(Verification.version_id == version.id,
                                                         Verification.role.in_([str(r) for r in TRUSTED_ROLES])))
    return any((claim.get("metric"), claim.get("dataset")) in wanted and claim.get("verdict") == Verdict.HELD
               for verification in trusted for claim in (verification.report or {}).get("claims", []))


def _has_detector(session: Session, artifact: Artifact) -> bool:
    return session.scalar(
        select(VersionLink.id).join(Version, Version.id == VersionLink.version_id)
        .join(Artifact, Artifact.id == Version.artifact_id)
        .where(VersionLink.link_type == LinkType.DETECTOR_FOR, VersionLink.target_name == artifact.full_name,
               Version.yanked_at.is_(None), Artifact.visibility.in_([str(s) for s in METADATA_PUBLIC_STAGES]))
        .limit(1)) is not None


def blocked_error(artifact: Artifact, target_stage: str, missing: list[str]) -> RegistryError:
    return RegistryError("RELEASE_BLOCKED", f"{artifact.full_name} is high-risk and cannot become {target_stage} "
                         f"until it has: {'; '.join(GATE_ITEMS[item] for item in missing)}",
                         name=artifact.full_name, stage=target_stage, missing=missing)


def set_stage(session: Session, actor: User | None, artifact: Artifact, stage: str, why: str = "owner") -> None:
    """Move ``artifact`` to ``stage``; raising it passes the ethics gate first. Audited; badge states refreshed."""
    current = artifact.visibility
    if stage == current:
        return
    if rank(stage) > rank(current):
        missing = missing_for_release(session, artifact, stage)
        if missing:
            raise blocked_error(artifact, stage, missing)
    audit.record(session, actor, "artifact.stage", artifact.full_name, old=current, new=stage, reason=why)
    artifact.visibility = stage
    session.flush()
    badge_states.refresh_artifact(session, artifact)


def may_set_risk(session: Session, user: User | None, artifact: Artifact) -> bool:
    """The owner, or a chair of a venue that one of the artifact's versions names."""
    if user is None:
        return False
    if owns_namespace(user, artifact.namespace):
        return True
    venues = select(Version.venue).where(Version.artifact_id == artifact.id, Version.venue.is_not(None))
    return session.scalar(select(VenueMember.id).join(Venue).where(
        VenueMember.user_id == user.id, VenueMember.role == VenueRole.CHAIR, Venue.slug.in_(venues)).limit(1)) \
        is not None


def configure(session: Session, user: User | None, full_name: str, settings: dict) -> Artifact:
    """Apply ``release`` settings (risk, generative, plan, stage: as loaded by ReleaseSchema). The risk may also
    be set by a chair of the artifact's venue; everything else only by the owner."""
    if user is None:
        raise RegistryError("UNAUTHORIZED", "this needs a token: run 'regctl login' or set REGCTL_TOKEN")
    artifact = readable_artifact(session, user, full_name)
    if not may_set_risk(session, user, artifact):
        raise RegistryError("FORBIDDEN", f"only the owner of {full_name} (or a chair of its venue, for the risk) "
                            "may change its release", name=full_name)
    owner_only = {"generative", "plan", "stage"} & set(settings)
    if owner_only and not owns_namespace(user, artifact.namespace):
        raise RegistryError("FORBIDDEN", f"only the owner of {full_name} may change {', '.join(sorted(owner_only))}",
                            name=full_name)
    for key in ("risk", "generative"):
        if key in settings and getattr(artifact, key) != settings[key]:
            audit.record(session, user, f"artifact.{key}", full_name, old=getattr(artifact, key), new=settings[key])
            setattr(artifact, key, settings[key])
    if "plan" in settings:
        set_plan(session, user, artifact, settings["plan"])
    if "stage" in settings:
        set_stage(session, user, artifact, settings["stage"])
    session.flush()
    return artifact


def set_plan(session: Session, user: User | None, artifact: Artifact, plan: list[dict]) -> None:
    """Replace the plan's steps not yet reached by ``plan`` (each ``{stage, on}``: due at UTC midnight)."""
    steps = list(session.scalars(select(ReleasePlanStep).where(ReleasePlanStep.artifact_id == artifact.id)))
    reached = {step.stage for step in steps if step.reached_at is not None}
    for step in steps:
        if step.reached_at is None:
            session.delete(step)
    session.flush()
    for position, step in enumerate(plan):
        if step["stage"] not in reached:
            session.add(ReleasePlanStep(artifact_id=artifact.id, position=position, stage=step["stage"],
                                        due_at=datetime.combine(step["on"], time(), UTC)))
    audit.record(session, user, "artifact.plan", artifact.full_name,
                 plan=[{"stage": step["stage"], "on": step["on"].isoformat()} for step in plan])
    session.flush()


def plan_steps(session: Session, artifact: Artifact) -> list[ReleasePlanStep]:
    return list(session.scalars(select(ReleasePlanStep).where(ReleasePlanStep.artifact_id == artifact.id)
                                .order_by(ReleasePlanStep.due_at)))


def release_document(session: Session, artifact: Artifact) -> dict:
    """The artifact's stage, risk, plan and pause: shown to anyone who may read the artifact."""
    return {
        "name": artifact.full_name, "stage": artifact.visibility, "risk": artifact.risk or ReleaseRisk.NORMAL.value,
        "generative": bool(artifact.generative),
        "plan": [{"stage": step.stage, "on": step.due_at.date().isoformat(),
                  "reached_at": step.reached_at.isoformat() if step.reached_at else None}
                 for step in plan_steps(session, artifact)],
        "paused": artifact.paused_at is not None, "pause_reason": artifact.pause_reason,
        "paused_at": artifact.paused_at.isoformat() if artifact.paused_at else None,
        "blocked": artifact.release_blocked or [],
        "missing_for_next": missing_for_release(session, artifact, _next_stage(session, artifact) or
                                                artifact.visibility),
    }


def pause(session: Session, user: User | None, full_name: str, reason: str) -> Artifact:
    artifact = owned_artifact(session, user, full_name)
    artifact.paused_at = utcnow()
    artifact.pause_reason = reason
    audit.record(session, user, "artifact.release_pause", full_name, reason=reason)
    session.flush()
    return artifact


def resume(session: Session, user: User | None, full_name: str) -> Artifact:
    artifact = owned_artifact(session, user, full_name)
    if artifact.paused_at is not None:
        audit.record(session, user, "artifact.release_resume", full_name, reason=artifact.pause_reason)
    artifact.paused_at = None
    artifact.pause_reason = None
    session.flush()
    return artifact


def _next_stage(session: Session, artifact: Artifact) -> str | None:
    pending = [step.stage for step in plan_steps(session, artifact)
               if step.reached_at is None and rank(step.stage) > rank(artifact.visibility)]
    if pending:
        return pending[0]
    position = rank(artifact.visibility)
    return STAGE_ORDER[position + 1] if position + 1 < len(STAGE_ORDER) else None


def advance(session: Session, user: User | None, full_name: str, stage: str | None = None,
            now: datetime | None = None) -> Artifact:
    """Advance early: to ``stage``, or to the plan's next stage (the next stage when there is no plan)."""
    artifact = owned_artifact(session, user, full_name)
    target = stage or _next_stage(session, artifact)
    if target is None or rank(target) <= rank(artifact.visibility):
        raise RegistryError("BAD_REQUEST", f"{full_name} is {artifact.visibility}: there is no later stage to "
                            "advance to" if target is None else f"{full_name} is already {artifact.visibility}; "
                            f"advancing goes forward (set a lower stage with a push)", name=full_name)
    set_stage(session, user, artifact, target, why="advanced early")
    _mark_reached(session, artifact, now or utcnow())
    artifact.release_blocked = None
    return artifact


def _mark_reached(session: Session, artifact: Artifact, now: datetime) -> None:
    for step in plan_steps(session, artifact):
        if step.reached_at is None and rank(step.stage) <= rank(artifact.visibility):
            step.reached_at = now
    session.flush()


def advance_due(session: Session, now: datetime) -> list[dict]:
    """Take every plan step due at ``now`` of artifacts that are not paused; returns what happened to each
    artifact (``{name, stage}`` moved, or ``{name, stage, missing}`` held by the ethics gate, which is recorded on
    the artifact and audited when it changes). Steps skipped by an early advance are marked reached."""
    due = session.scalars(select(ReleasePlanStep).join(Artifact)
                          .where(ReleasePlanStep.reached_at.is_(None), ReleasePlanStep.due_at <= now,
                                 Artifact.paused_at.is_(None))
                          .order_by(ReleasePlanStep.artifact_id, ReleasePlanStep.due_at))
    targets: dict[int, ReleasePlanStep] = {}
    for step in due:
        targets[step.artifact_id] = step  # the latest step due wins: a missed date is not replayed
    happened = []
    for step in targets.values():
        artifact = step.artifact
        if rank(step.stage) > rank(artifact.visibility):
            missing = missing_for_release(session, artifact, step.stage)
            if missing:
                if artifact.release_blocked != missing:
                    audit.record(session, None, "artifact.release_blocked", artifact.full_name, new=step.stage,
                                 missing=missing)
                    artifact.release_blocked = missing
                happened.append({"name": artifact.full_name, "stage": step.stage, "missing": missing})
                continue
            set_stage(session, None, artifact, step.stage, why="release plan")
            happened.append({"name": artifact.full_name, "stage": step.stage})
        artifact.release_blocked = None
        _mark_reached(session, artifact, now)
    session.flush()
    return happened


def artifact_named(session: Session, full_name: str) -> Artifact | None:
    return find_artifact(session, full_name)
