"""Blob storage: moves bytes by key, nothing else. The backend is chosen by configuration."""

from registry.config import Settings
from registry.storage.base import BlobStore, OffsetMismatch
from registry.storage.local import LocalBlobStore


def create_blob_store(settings: Settings) -> BlobStore:
    return LocalBlobStore(settings.blob_dir)


__all__ = ["BlobStore", "LocalBlobStore", "OffsetMismatch", "create_blob_store"]
