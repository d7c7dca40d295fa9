"""Badge states kept as derived data: one row per version, rewritten in the same transaction as whatever
changes them (publish, yank, a verification recorded, a visibility change, a blob quarantined or repaired), so
that pages, listings and badges read them with one join instead of recomputing them per request.

The indexes the listings use (on tables declared elsewhere) are declared here too, so that the migrations and
the models describe the same schema."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from reproreg.models.artifacts import Artifact, Claim, Version, VersionFile
from reproreg.models.base import Base, UTCDateTime, utcnow


class VersionState(Base):
    """The badge states of one version (see reproreg.services.badges for what each means)."""

    __tablename__ = "version_states"
    __table_args__ = (
        # full-text search over search_vector on PostgreSQL (on SQLite, which searches search_text with LIKE, the
        # column stays NULL and its index is a plain one)
        Index("ix_version_states_search_vector", "search_vector", postgresql_using="gin"),
    )

    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), primary_key=True)
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"))
    #: grows by one each time any state below changes: the badges' ETag
    revision: Mapped[int] = mapped_column(Integer, default=1)
    #: the artifact's latest version (highest not yanked, releases before pre-releases)
    latest: Mapped[bool] = mapped_column(Boolean, default=False)
    #: place among the artifact's versions by semver precedence, 0 for the highest
    rank: Mapped[int] = mapped_column(Integer, default=0)
    yanked: Mapped[bool] = mapped_column(Boolean, default=False)
    available: Mapped[bool] = mapped_column(Boolean, default=False)
    functional: Mapped[bool] = mapped_column(Boolean, default=False)
    reproduced: Mapped[bool] = mapped_column(Boolean, default=False)
    reproduced_state: Mapped[str] = mapped_column(String(16))
    checklist: Mapped[bool] = mapped_column(Boolean, default=False)
    checklist_state: Mapped[str] = mapped_column(String(16))
    checklist_answered: Mapped[int] = mapped_column(Integer, default=0)
    checklist_items: Mapped[int] = mapped_column(Integer, default=0)
    claims: Mapped[int] = mapped_column(Integer, default=0)
    trusted: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    latest_trusted_id: Mapped[int | None] = mapped_column(Integer)
    #: community report counts: {"reports": n, <outcome>: n, ...}
    community: Mapped[dict] = mapped_column(JSON, default=dict)
    #: the claims' metric names, sorted and distinct
    metrics: Mapped[list] = mapped_column(JSON, default=list)
    #: lower-case words of the name, title, paper, venue and metric names, for search
    search_text: Mapped[str] = mapped_column(Text, default="")
    #: on PostgreSQL, search_text as a tsvector ('simple' configuration), stored so that a search matches each
    #: row without parsing its text again; written with search_text (reproreg.services.badge_states), NULL on SQLite
    search_vector: Mapped[str | None] = mapped_column(TSVECTOR().with_variant(Text(), "sqlite"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# what the listings filter and sort on
Index("ix_version_states_artifact_id_latest", VersionState.artifact_id, VersionState.latest)
Index("ix_version_states_latest", VersionState.latest)
Index("ix_versions_published_at_id", Version.published_at, Version.id)
Index("ix_versions_venue_artifact_id", Version.venue, Version.artifact_id)
Index("ix_version_files_version_id_blob_digest", VersionFile.version_id, VersionFile.blob_digest)
Index("ix_version_files_blob_digest_version_id", VersionFile.blob_digest, VersionFile.version_id)
Index("ix_claims_version_id_metric", Claim.version_id, Claim.metric)
# the metric filter compares lower(metric): an index on it also gives the planner its statistics
Index("ix_claims_version_id_lower_metric", Claim.version_id, func.lower(Claim.metric))
Index("ix_artifacts_visibility", Artifact.visibility)
