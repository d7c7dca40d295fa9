"""Blob storage: moves bytes by key, nothing else. The backend is chosen by configuration."""

from reproreg.config import Settings
from reproreg.storage.base import BlobStore, OffsetMismatch
from reproreg.storage.local import LocalBlobStore


def create_blob_store(settings: Settings) -> BlobStore:
    return LocalBlobStore(settings.blob_dir)


__all__ = ["BlobStore", "LocalBlobStore", "OffsetMismatch", "create_blob_store"]
