"""The one place that reads configuration: environment variables, read once by the app factory."""

import os
from dataclasses import dataclass
from pathlib import Path

GiB = 1024**3
MiB = 1024**2


class ConfigError(ValueError):
    pass


def _int(env, name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of bytes, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def _choice(env, name: str, choices: tuple[str, ...], default: str) -> str:
    value = env.get(name) or default
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str
    blob_dir: Path
    public_url: str | None = None
    max_blob_bytes: int = 100 * GiB
    max_json_bytes: int = 16 * MiB
    #: the body of a version's PUT (its manifest): up to 100,000 file entries of a few hundred bytes each
    max_manifest_bytes: int = 64 * MiB
    max_training_config_bytes: int = 1 * MiB
    upload_session_ttl_s: int = 24 * 3600
    #: "inprocess" (embedded default: jobs run in a thread of `registry serve`) or "celery"
    jobs_backend: str = "inprocess"
    broker_url: str | None = None
    queue_prefix: str = ""
    job_lease_s: int = 120
    #: a signed verification report is accepted for this long after it was signed
    report_max_age_s: int = 24 * 3600
    #: where blobs live: "local" (blob_dir) or "s3" (a bucket; credentials from boto3's usual chain, never here)
    storage: str = "local"
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    #: presigned URLs (downloads and multipart parts) expire after this many seconds
    presign_expiry_s: int = 900
    #: files from this size up go straight to the object store as multipart uploads (S3 storage only)
    multipart_threshold_bytes: int = 64 * MiB
    multipart_part_bytes: int = 64 * MiB
    #: a multipart upload from this size up is verified by a job after completion (complete answers 202 at once)
    verify_in_job_bytes: int = 256 * MiB
    #: how long a verification job's lease lasts without renewal (a crashed verifier's upload is taken up after it)
    verify_lease_s: int = 60
    #: verification jobs each web process runs at once
    verify_threads: int = 2

    @classmethod
    def from_env(cls, env=None) -> "Settings":
        """Read ``REGISTRY_*`` variables; the defaults are the embedded set-up under ``./var``."""
        env = os.environ if env is None else env
        var_dir = Path(env.get("REGISTRY_VAR_DIR", "var")).resolve()
        database_url = env.get("REGISTRY_DATABASE_URL") or f"sqlite:///{var_dir / 'registry.db'}"
        blob_dir = Path(env.get("REGISTRY_BLOB_DIR") or var_dir / "blobs").resolve()
        return cls(
            database_url=database_url,
            blob_dir=blob_dir,
            public_url=(env.get("REGISTRY_PUBLIC_URL") or None),
            max_blob_bytes=_int(env, "REGISTRY_MAX_BLOB_BYTES", cls.max_blob_bytes),
            max_json_bytes=_int(env, "REGISTRY_MAX_JSON_BYTES", cls.max_json_bytes),
            max_manifest_bytes=_int(env, "REGISTRY_MAX_MANIFEST_BYTES", cls.max_manifest_bytes),
            max_training_config_bytes=_int(env, "REGISTRY_MAX_TRAINING_CONFIG_BYTES",
                                           cls.max_training_config_bytes),
            jobs_backend=_choice(env, "REGISTRY_JOBS", ("inprocess", "celery"), cls.jobs_backend),
            broker_url=env.get("REGISTRY_BROKER_URL") or None,
            queue_prefix=env.get("REGISTRY_QUEUE_PREFIX", ""),
            job_lease_s=_int(env, "REGISTRY_JOB_LEASE_S", cls.job_lease_s),
            upload_session_ttl_s=_int(env, "REGISTRY_UPLOAD_TTL_S", cls.upload_session_ttl_s),
            report_max_age_s=_int(env, "REGISTRY_REPORT_MAX_AGE_S", cls.report_max_age_s),
            **_storage_settings(env),
        )


def _storage_settings(env) -> dict:
    storage = _choice(env, "REGISTRY_STORAGE", ("local", "s3"), Settings.storage)
    bucket = env.get("REGISTRY_S3_BUCKET") or None
    if storage == "s3" and not bucket:
        raise ConfigError("REGISTRY_STORAGE=s3 needs REGISTRY_S3_BUCKET")
    part = _int(env, "REGISTRY_S3_PART_BYTES", Settings.multipart_part_bytes)
    if not 5 * MiB <= part <= 5 * GiB:
        raise ConfigError(f"REGISTRY_S3_PART_BYTES must be between 5 MiB and 5 GiB, got {part}")
    return {"storage": storage, "s3_bucket": bucket, "s3_prefix": env.get("REGISTRY_S3_PREFIX", ""),
            "s3_endpoint_url": env.get("REGISTRY_S3_ENDPOINT_URL") or None,
            "presign_expiry_s": _int(env, "REGISTRY_PRESIGN_EXPIRY_S", Settings.presign_expiry_s),
            "multipart_threshold_bytes": _int(env, "REGISTRY_S3_MULTIPART_THRESHOLD_BYTES",
                                              Settings.multipart_threshold_bytes),
            "multipart_part_bytes": part,
            "verify_in_job_bytes": _int(env, "REGISTRY_S3_VERIFY_IN_JOB_BYTES", Settings.verify_in_job_bytes),
            "verify_lease_s": _int(env, "REGISTRY_S3_VERIFY_LEASE_S", Settings.verify_lease_s),
            "verify_threads": _int(env, "REGISTRY_S3_VERIFY_THREADS", Settings.verify_threads)}
