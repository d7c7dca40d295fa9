"""Blob storage: moves bytes by key, nothing else. The backend is chosen by configuration."""

from reproreg.config import Settings
from reproreg.storage.base import BlobStore, OffsetMismatch
from reproreg.storage.local import LocalBlobStore


def create_blob_store(settings: Settings) -> BlobStore:
    if settings.storage == "s3":
        from reproreg.storage.s3 import S3BlobStore

        return S3BlobStore(settings.s3_bucket, settings.s3_prefix, settings.s3_endpoint_url)
    return LocalBlobStore(settings.blob_dir)


__all__ = ["BlobStore", "LocalBlobStore", "OffsetMismatch", "create_blob_store"]
