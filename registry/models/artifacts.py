from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reproreg.models.base import Base, TimestampMixin, UTCDateTime
from reproreg.models.users import Namespace, User


class Blob(TimestampMixin, Base):
    """File content, addressed by its SHA-256 and stored once however many versions use it."""

    __tablename__ = "blobs"

    digest: Mapped[str] = mapped_column(String(71), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    fingerprint: Mapped[str | None] = mapped_column(String(71), index=True)


class Artifact(TimestampMixin, Base):
    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: the release stage (private, review, gated, public: reproreg_schemas.vocabulary.ReleaseStage); the column keeps
    #: its older name, whose two values (private, public) are the first and last stages
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    #: the release risk (normal, high) and whether it generates content, as the author or a venue chair set them
    risk: Mapped[str | None] = mapped_column(String(16))
    generative: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: a paused staged release: when, and the public reason; ``release_blocked``: what the ethics gate last found
    #: missing when a scheduled step could not be taken
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pause_reason: Mapped[str | None] = mapped_column(String(1000))
    release_blocked: Mapped[list | None] = mapped_column(JSON)

    namespace: Mapped[Namespace] = relationship()
    versions: Mapped[list["Version"]] = relationship(back_populates="artifact")

    @property
    def full_name(self) -> str:
        return f"{self.namespace.name}/{self.name}"

    @property
    def stage(self) -> str:
        return self.visibility


class Version(Base):
    """An immutable snapshot; ``manifest`` is the canonical JSON whose SHA-256 is ``digest``."""

    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("artifact_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"), index=True)
    version: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(71), index=True)
    manifest: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(String(300))
    license: Mapped[str] = mapped_column(String(100))
    venue: Mapped[str | None] = mapped_column(String(63), index=True)
    paper: Mapped[dict | None] = mapped_column(JSON)
    training: Mapped[dict | None] = mapped_column(JSON)
    training_config: Mapped[dict | list | None] = mapped_column(JSON)
    ethics: Mapped[dict | None] = mapped_column(JSON)
    checklist_warnings: Mapped[list] = mapped_column(JSON, default=list)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    yanked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    yank_reason: Mapped[str | None] = mapped_column(String(1000))

    artifact: Mapped[Artifact] = relationship(back_populates="versions")
    published_by: Mapped[User] = relationship()
    files: Mapped[list["VersionFile"]] = relationship(back_populates="version", order_by="VersionFile.path")
    claims: Mapped[list["Claim"]] = relationship(order_by="Claim.position")
    checklist_answers: Mapped[list["ChecklistAnswer"]] = relationship(order_by="ChecklistAnswer.item")
    evaluation_spec: Mapped["EvaluationSpec | None"] = relationship(uselist=False)


class VersionFile(Base):
    __tablename__ = "version_files"
    __table_args__ = (UniqueConstraint("version_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    path: Mapped[str] = mapped_column(String(1024))
    #: the bytes in the registry's storage; None for a file that lives elsewhere (``source``) and is not mirrored
    blob_digest: Mapped[str | None] = mapped_column(ForeignKey("blobs.digest"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(200))
    #: where the file lives outside the registry, pinned: ``hf://ORG/NAME@<commit>/<path>`` (None: only here)
    source: Mapped[str | None] = mapped_column(String(1200))

    version: Mapped[Version] = relationship(back_populates="files")


class Claim(Base):
    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String(200), index=True)
    value: Mapped[float] = mapped_column(Float)
    dataset: Mapped[str] = mapped_column(String(300))
    tolerance: Mapped[dict] = mapped_column(JSON)
    std: Mapped[float | None] = mapped_column(Float)
    n_runs: Mapped[int | None] = mapped_column(Integer)
    #: the hardware the claimed value was measured on, as the author named it ("A100-80GB")
    hardware: Mapped[str | None] = mapped_column(String(300))
    #: what the claim measures when not plain accuracy ("bias"), as the manifest says
    kind: Mapped[str | None] = mapped_column(String(16))


class ChecklistAnswer(Base):
    __tablename__ = "checklist_answers"
    __table_args__ = (UniqueConstraint("version_id", "item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    item: Mapped[str] = mapped_column(String(8))
    answer: Mapped[str] = mapped_column(String(8))
    justification: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(String(1024))


class EvaluationSpec(Base):
    __tablename__ = "evaluation_specs"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), unique=True)
    command: Mapped[str] = mapped_column(Text)
    accelerator: Mapped[str] = mapped_column(String(16))
    timeout_s: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int | None] = mapped_column(Integer)
    #: the GPU it needs (accelerator gpu only): at least this much GPU memory, and optionally this class of GPU
    gpu_min_memory_gb: Mapped[float | None] = mapped_column(Float)
    gpu_model: Mapped[str | None] = mapped_column(String(100))
