"""A large registry made in seconds, for measuring and checking the listings at scale: ``registry seed``.

Rows are written with bulk inserts (not pushes): namespaces, artifacts, versions with one claim each, checklist
answers, trusted and community verifications, and each version's badge states as
``reproreg.services.badge_states`` would derive them (the scale tests recompute a sample to prove it). Versions
carry no files (no blobs to store), so every public one is "available".

The shape, for ``artifacts`` A and ``versions_per_artifact`` V (at least 3): artifact i is
``seed-<i % 100>/model-<i>``; its versions are ``1.0.0`` … ``1.0.<V-2>`` and a last one that is ``2.0.0-rc.1`` for
every 7th artifact (a pre-release: never the latest while a release exists), else ``1.0.<V-1>``. Every 20th
artifact is private; every 50th has its last version yanked. The venue names the last two versions of the first
``venue_entries / 2`` artifacts. Every 25th artifact's versions answer the whole checklist; the latest version of
every 10th artifact has a reference worker's verification (reproduced for every 20th, a failed claim otherwise),
every 15th a community report.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from reproreg.models import (
    Artifact,
    ChecklistAnswer,
    Claim,
    Namespace,
    SigningKey,
    User,
    Venue,
    Verification,
    Version,
    VersionState,
)
from reproreg.services.badge_states import community_counts, is_release, words
from reproreg_schemas.checklist import ITEMS
from reproreg_schemas.names import semver_key
from reproreg_schemas.vocabulary import ChecklistState, Outcome, ReproducedState, VerifierRole

METRICS = ("accuracy", "top1", "bleu", "f1", "auroc")
DATASETS = ("cifar10", "imagenet", "wmt14", "squad", "mimic")
BATCH = 5000
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Seeded:
    artifacts: int
    versions: int
    venue: str
    venue_entries: int


def _max_id(session: Session, column) -> int:
    return session.scalar(select(func.coalesce(func.max(column), 0)))


def _insert(session: Session, model, rows: list[dict]) -> None:
    """Bulk insert: COPY on PostgreSQL, multi-row INSERTs elsewhere."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        columns = [column.name for column in model.__table__.columns if column.name in rows[0]]
        names = ", ".join(f'"{name}"' for name in columns)
        cursor = session.connection().connection.driver_connection.cursor()
        with cursor.copy(f'COPY "{model.__tablename__}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([json.dumps(value) if isinstance(value, (dict, list)) else value
                                for value in (row[name] for name in columns)])
        return
    for start in range(0, len(rows), BATCH):
        session.execute(insert(model), rows[start:start + BATCH])


def _version_names(i: int, count: int) -> list[str]:
    names = [f"1.0.{n}" for n in range(count - 1)]
    names.append("2.0.0-rc.1" if i % 7 == 0 else f"1.0.{count - 1}")
    return names


def seed(session: Session, artifacts: int = 10_000, versions_per_artifact: int = 10, venue: str = "seed-venue",
         venue_entries: int = 10_000, prefix: str = "seed") -> Seeded:
    """Add ``artifacts`` × ``versions_per_artifact`` versions (see the module's docstring); the caller commits."""
    if versions_per_artifact < 3:
        raise ValueError("versions_per_artifact must be at least 3")
    if venue_entries > 2 * artifacts:
        raise ValueError("venue_entries must be at most twice the number of artifacts")
    now = datetime.now(UTC)
    user_id, namespace_id = _max_id(session, User.id), _max_id(session, Namespace.id)
    artifact_id, version_id = _max_id(session, Artifact.id), _max_id(session, Version.id)
    claim_id, answer_id = _max_id(session, Claim.id), _max_id(session, ChecklistAnswer.id)
    verification_id = _max_id(session, Verification.id)
    owner, worker, reader = user_id + 1, user_id + 2, user_id + 3
    _insert(session, User, [{"id": owner, "name": f"{prefix}-owner", "is_worker": False, "created_at": now},
                            {"id": worker, "name": f"{prefix}-worker", "is_worker": True, "created_at": now},
                            {"id": reader, "name": f"{prefix}-reader", "is_worker": False, "created_at": now}])
    key_id = f"{prefix}-key"[:32]
    _insert(session, SigningKey, [{"id": key_id, "user_id": worker, "public_key": f"{prefix}-public-key"[:64],
                                   "name": "seed", "created_at": now}])
    spaces = min(100, artifacts)
    _insert(session, Namespace, [{"id": namespace_id + n + 1, "name": f"{prefix}-{n}", "owner_id": owner,
                                  "created_at": now} for n in range(spaces)])
    if session.scalar(select(Venue.id).where(Venue.slug == venue)) is None:
        _insert(session, Venue, [{"slug": venue, "title": f"{venue} (seeded)", "created_at": now}])
    artifact_rows, version_rows, claim_rows, answer_rows, state_rows, verification_rows = [], [], [], [], [], []
    in_venue = venue_entries // 2
    counts = [community_counts([]), community_counts([Outcome.REPRODUCED])]
    extra_venue = venue_entries - 2 * in_venue  # an odd count: one more artifact with its last version only
    for i in range(artifacts):
        aid = artifact_id + i + 1
        namespace, name = f"{prefix}-{i % spaces}", f"model-{i}"
        visibility = "private" if i % 20 == 19 else "public"
        artifact_rows.append({"id": aid, "namespace_id": namespace_id + i % spaces + 1, "name": name,
                              "visibility": visibility, "created_at": now})
        names = _version_names(i, versions_per_artifact)
        ordered = sorted(names, key=semver_key, reverse=True)
        yanked_name = names[-1] if i % 50 == 49 else None
        candidates = [n for n in ordered if n != yanked_name]
        latest_name = ([n for n in candidates if is_release(n)] or candidates)[0]
        answered = i % 25 == 0
        for n, number in enumerate(names):
            vid = version_id + i * versions_per_artifact + n + 1
            last_two = n >= versions_per_artifact - 2
            venue_of = venue if (i < in_venue and last_two) or (i == in_venue and extra_venue and
                                                                   n == versions_per_artifact - 1) else None
            metric, dataset = METRICS[i % len(METRICS)], DATASETS[i % len(DATASETS)]
            title = f"Model {i} version {number} on {dataset}"
            published = EPOCH + timedelta(seconds=i * versions_per_artifact + n)
            yanked = number == yanked_name
            version_rows.append({
                "id": vid, "artifact_id": aid, "version": number, "digest": f"sha256:{vid:064x}",
                "manifest": "{}", "title": title, "license": "mit", "venue": venue_of,
                "paper": {"title": f"Paper {i}", "venue": venue_of} if venue_of else None,
                "checklist_warnings": [], "published_at": published, "published_by_id": owner,
                "yanked_at": published + timedelta(days=1) if yanked else None,
                "yank_reason": "seeded" if yanked else None})
            claim_id += 1
            claim_rows.append({"id": claim_id, "version_id": vid, "position": 0, "metric": metric, "value": 0.9,
                               "dataset": dataset, "tolerance": {"abs": 0.01}})
            if answered:
                for item in ITEMS:
                    answer_id += 1
                    answer_rows.append({"id": answer_id, "version_id": vid, "item": item, "answer": "yes",
                                        "justification": "seeded"})
            trusted_outcome = None
            community = []
            if number == latest_name and i % 10 == 0:
                trusted_outcome = Outcome.REPRODUCED if i % 20 == 0 else Outcome.CLAIM_FAILED
                verification_id += 1
                verification_rows.append(_verification(verification_id, vid, worker, key_id, trusted_outcome,
                                                       VerifierRole.REFERENCE_WORKER, now))
            if number == latest_name and i % 15 == 0:
                verification_id += 1
                community.append(Outcome.REPRODUCED)
                verification_rows.append(_verification(verification_id, vid, reader, key_id, Outcome.REPRODUCED,
                                                       VerifierRole.COMMUNITY, now))
            reproduced = (ReproducedState.NOT_VERIFIED if trusted_outcome is None else
                          ReproducedState.REPRODUCED if trusted_outcome == Outcome.REPRODUCED else
                          ReproducedState.FAILED)
            searched = " ".join((f"{namespace}/{name}", title, f"Paper {i}" if venue_of else "", venue_of or "",
                                 metric))
            state_rows.append({
                "version_id": vid, "artifact_id": aid, "revision": 1, "latest": number == latest_name,
                "rank": ordered.index(number), "yanked": yanked, "available": visibility == "public",
                "functional": trusted_outcome is not None, "reproduced": reproduced == ReproducedState.REPRODUCED,
                "reproduced_state": str(reproduced), "checklist": answered,
                "checklist_state": str(ChecklistState.COMPLETE if answered else ChecklistState.INCOMPLETE),
                "checklist_answered": len(ITEMS) if answered else 0, "checklist_items": len(ITEMS), "claims": 1,
                "trusted": int(trusted_outcome is not None), "held": int(trusted_outcome == Outcome.REPRODUCED),
                "failed": int(trusted_outcome == Outcome.CLAIM_FAILED),
                "latest_trusted_id": verification_rows[-1 - len(community)]["id"] if trusted_outcome else None,
                "community": counts[len(community)], "metrics": [metric],
                "search_text": searched.lower() + " " + " ".join(words(searched)), "updated_at": now})
    for model, rows in ((Artifact, artifact_rows), (Version, version_rows), (Claim, claim_rows),
                        (ChecklistAnswer, answer_rows), (Verification, verification_rows),
                        (VersionState, state_rows)):
        _insert(session, model, rows)
    _fill_search_vectors(session, version_id)
    _advance_sequences(session)
    return Seeded(artifacts, len(version_rows), venue, venue_entries)


def _verification(vid: int, version_id: int, verifier: int, key_id: str, outcome: str, role: str,
                  now: datetime) -> dict:
    return {"id": vid, "version_id": version_id, "verifier_id": verifier, "role": role, "key_id": key_id,
            "signature": f"seed-signature-{vid}", "nonce": f"seed-nonce-{vid}", "digest": f"sha256:{version_id:064x}",
            "outcome": outcome, "sandbox": "none", "hardware": "seeded", "accelerator_used": "cpu",
            "report": {"seeded": True}, "created_at": now}


def _fill_search_vectors(session: Session, after_version_id: int) -> None:
    """The stored tsvector of each seeded version's search text (PostgreSQL only), as badge_states writes it."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("UPDATE version_states SET search_vector = to_tsvector('simple', search_text) "
                             "WHERE version_id > :after"), {"after": after_version_id})


def _advance_sequences(session: Session) -> None:
    """Explicit ids leave PostgreSQL's sequences behind: move them past the rows just written."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in ("users", "namespaces", "venues", "artifacts", "versions", "claims", "checklist_answers",
                  "verifications"):
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                             f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"))
