"""Blobs in an S3 bucket (or any S3-compatible store), through boto3. This module alone knows the key layout::

    <prefix>blobs/sha256/<64 hex>                     committed blobs, served through presigned GET URLs
    <prefix>uploads/<upload id>/<offset, 20 digits>   the segments of an upload in progress (S3 cannot append);
                                                      a multipart upload lands as the one segment at offset 0
    <prefix>quarantine/sha256/<64 hex>.<UTC time>     blobs that failed a check, kept for inspection, never served
    <prefix>trash/<64 hex>.<UTC time>                 blobs garbage collection is about to delete, never served

Nothing under ``uploads/`` is ever served: an upload is readable under its digest only once the registry has
hashed it and :meth:`S3BlobStore.commit` has copied it (server-side) to its ``blobs/`` key. Credentials come from
boto3's usual chain (environment, profile, instance role); they are never stored by the registry.
"""

import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

from reproreg.storage.base import BlobStore, OffsetMismatch

HEX = frozenset("0123456789abcdef")
OFFSET_DIGITS = 20
#: an append is spooled to a temporary file up to this size in memory, then on disk
SPOOL_BYTES = 8 << 20
#: S3's smallest part (all but the last) of a multipart upload or copy
MIN_PART_BYTES = 5 << 20
#: the largest object one CopyObject request may copy; larger ones are copied in parts of COPY_PART_BYTES
MAX_SINGLE_COPY_BYTES = 5 << 30
COPY_PART_BYTES = 1 << 30


def _client(endpoint_url: str | None):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint_url,
                        config=Config(signature_version="s3v4", retries={"max_attempts": 5, "mode": "standard"},
                                      max_pool_connections=32))


def _missing(err) -> bool:
    code = str(err.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound", "NoSuchUpload")


class S3BlobStore(BlobStore):
    supports_presigning = True

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None, client=None):
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client or _client(endpoint_url)

    # --- keys -------------------------------------------------------------------------------------------
    def _blob_key(self, digest: str) -> str:
        algorithm, _, hexdigest = digest.partition(":")
        if algorithm != "sha256" or not _is_hex64(hexdigest):
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return f"{self.prefix}blobs/sha256/{hexdigest}"

    def _upload_prefix(self, upload_id: str) -> str:
        if not upload_id.isalnum():
            raise ValueError(f"bad upload id {upload_id!r}")
        return f"{self.prefix}uploads/{upload_id}/"

    def _segment_key(self, upload_id: str, offset: int) -> str:
        return f"{self._upload_prefix(upload_id)}{offset:0{OFFSET_DIGITS}d}"

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    # --- committed blobs --------------------------------------------------------------------------------
    def _head(self, key: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if _missing(err):
                return None
            raise

    def exists(self, digest: str) -> bool:
        return self._head(self._blob_key(digest)) is not None

    def size(self, digest: str) -> int | None:
        head = self._head(self._blob_key(digest))
        return None if head is None else head["ContentLength"]

    def read(self, digest: str, start: int = 0, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        key = self._blob_key(digest)  # a bad digest fails here, before the first chunk is asked for
        return self._read_key(key, start, chunk_size)

    def _read_key(self, key: str, start: int = 0, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        from botocore.exceptions import ClientError

        kwargs = {"Range": f"bytes={start}-"} if start else {}
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key, **kwargs)
        except ClientError as err:
            if _missing(err):
                raise FileNotFoundError(self.location(key)) from None
            if err.response.get("Error", {}).get("Code") == "InvalidRange":
                return  # start at or past the end: nothing to read
            raise
        body = response["Body"]
        try:
            yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def presigned_read_url(self, digest: str, expires_s: int) -> str | None:
        return self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket,
                                                                        "Key": self._blob_key(digest)},
                                                  ExpiresIn=expires_s)

    # --- uploads: segments, one per append ---------------------------------------------------------------
    def _segments(self, upload_id: str) -> list[tuple[int, int, str]]:
        """(offset, size, key) of each stored segment of an upload, in order."""
        prefix = self._upload_prefix(upload_id)
        found = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix):]
                if len(name) == OFFSET_DIGITS and name.isdigit():
                    found.append((int(name), item["Size"], item["Key"]))
        found.sort()
        contiguous, offset = [], 0
        for segment in found:
            if segment[0] != offset:
                break  # a gap (a concurrent writer lost its race): what follows it is not part of the upload
            contiguous.append(segment)
            offset += segment[1]
        return contiguous

    def upload_offset(self, upload_id: str) -> int:
        segments = self._segments(upload_id)
        return segments[-1][0] + segments[-1][1] if segments else 0

    def append(self, upload_id: str, offset: int, chunks: Iterable[bytes]) -> int:
        current = self.upload_offset(upload_id)
        if current != offset:
            raise OffsetMismatch(expected=offset, actual=current)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            try:
                for chunk in chunks:
                    spool.write(chunk)
            finally:  # bytes received before an interruption are stored too, so the upload can resume
                length = spool.tell()
                if length:
                    spool.seek(0)
                    self.client.upload_fileobj(spool, self.bucket, self._segment_key(upload_id, offset))
        return offset + length

    def read_upload(self, upload_id: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        for _, _, key in self._segments(upload_id):
            yield from self._read_key(key, 0, chunk_size)

    def commit(self, upload_id: str, digest: str, size: int, replace: bool = False) -> None:
        target = self._blob_key(digest)
        if not replace and self.size(digest) == size:
            self.discard(upload_id)
            return
        segments = self._segments(upload_id)
        actual = segments[-1][0] + segments[-1][1] if segments else 0
        if actual != size:
            raise ValueError(f"upload {upload_id} holds {actual} bytes, expected {size}")
        if not segments:  # an empty file: no byte was ever appended
            self.client.put_object(Bucket=self.bucket, Key=target, Body=b"")
        elif len(segments) == 1:  # one server-side copy (multipart for large objects): atomic for readers
            self._copy(segments[0][2], target, segments[0][1])
        else:
            self._concatenate(segments, target)
        self.discard(upload_id)

    def _copy(self, source: str, target: str, size: int) -> None:
        """A server-side copy: one request up to 5 GiB, else a multipart copy in large parts."""
        if size <= MAX_SINGLE_COPY_BYTES:
            self.client.copy_object(CopySource={"Bucket": self.bucket, "Key": source}, Bucket=self.bucket, Key=target)
            return
        from boto3.s3.transfer import TransferConfig

        self.client.copy({"Bucket": self.bucket, "Key": source}, self.bucket, target,
                         Config=TransferConfig(multipart_threshold=MAX_SINGLE_COPY_BYTES,
                                               multipart_chunksize=COPY_PART_BYTES))

    def _concatenate(self, segments: list[tuple[int, int, str]], target: str) -> None:
        """Join segments into one object: server-side when S3 allows it (every segment but the last at least
        5 MiB), else by streaming them through (only small web-tier uploads are cut in such small pieces)."""
        if all(size >= MIN_PART_BYTES for _, size, _ in segments[:-1]):
            upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=target)["UploadId"]
            try:
                parts = []
                for number, (_, _, key) in enumerate(segments, start=1):
                    copied = self.client.upload_part_copy(Bucket=self.bucket, Key=target, UploadId=upload,
                                                          PartNumber=number,
                                                          CopySource={"Bucket": self.bucket, "Key": key})
                    parts.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
                self.client.complete_multipart_upload(Bucket=self.bucket, Key=target, UploadId=upload,
                                                      MultipartUpload={"Parts": parts})
            except BaseException:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=target, UploadId=upload)
                raise
            return
        reader = _IterReader(chunk for _, _, key in segments for chunk in self._read_key(key))
        self.client.upload_fileobj(reader, self.bucket, target)

    def discard(self, upload_id: str) -> None:
        prefix = self._upload_prefix(upload_id)
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})

    def digests(self) -> Iterator[str]:
        prefix = f"{self.prefix}blobs/sha256/"
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix):]
                if _is_hex64(name):
                    yield f"sha256:{name}"

    def quarantine(self, digest: str) -> str:
        """Raises FileNotFoundError when the blob is absent."""
        source = self._blob_key(digest)
        head = self._head(source)
        if head is None:
            raise FileNotFoundError(self.location(source))
        target = f"{self.prefix}quarantine/sha256/{digest.partition(':')[2]}.{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}"
        self._copy(source, target, head["ContentLength"])
        self.client.delete_object(Bucket=self.bucket, Key=source)
        return self.location(target)

    def set_aside(self, digest: str) -> str | None:
        source = self._blob_key(digest)
        head = self._head(source)
        if head is None:
            return None
        target = f"{self.prefix}trash/{digest.partition(':')[2]}.{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}"
        self._copy(source, target, head["ContentLength"])
        self.client.delete_object(Bucket=self.bucket, Key=source)
        return self.location(target)

    def put_back(self, digest: str, place: str) -> None:
        key = self._trash_key(place)
        if self._head(self._blob_key(digest)) is None:
            self._copy(key, self._blob_key(digest), self._head(key)["ContentLength"])
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def drop(self, place: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._trash_key(place))

    def _trash_key(self, place: str) -> str:
        key = place.removeprefix(f"s3://{self.bucket}/")
        if not key.startswith(f"{self.prefix}trash/") or "/" in key[len(f"{self.prefix}trash/"):]:
            raise ValueError(f"not a blob set aside: {place}")
        return key

    def stale_uploads(self, older_than_s: float) -> Iterator[str]:
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
        for upload_id, newest in self.upload_ids():
            if newest < cutoff and upload_id.isalnum():
                yield upload_id

    def read_quarantined(self, location: str) -> Iterator[bytes]:
        return self._read_key(location.removeprefix(f"s3://{self.bucket}/"))

    # --- multipart uploads straight to the bucket --------------------------------------------------------
    def start_multipart(self, upload_id: str) -> str:
        """Open an S3 multipart upload whose object becomes the upload's only segment; returns its S3 id."""
        self.discard(upload_id)
        return self.client.create_multipart_upload(Bucket=self.bucket, Key=self._segment_key(upload_id, 0),
                                                   ChecksumAlgorithm="SHA256")["UploadId"]

    def presign_part(self, upload_id: str, multipart_id: str, number: int, checksum_b64: str,
                     expires_s: int) -> str:
        """A URL to PUT part ``number``; the SHA-256 (base64) is signed in, so S3 refuses other bytes."""
        return self.client.generate_presigned_url("upload_part", ExpiresIn=expires_s, Params={
            "Bucket": self.bucket, "Key": self._segment_key(upload_id, 0), "UploadId": multipart_id,
            "PartNumber": number, "ChecksumSHA256": checksum_b64})

    def stored_parts(self, upload_id: str, multipart_id: str) -> list[dict]:
        """The parts S3 holds: PartNumber, Size, ETag, LastModified, ChecksumSHA256 where the store reports it.
        Raises FileNotFoundError when the multipart upload is gone (completed or aborted)."""
        from botocore.exceptions import ClientError

        parts = []
        try:
            for page in self.client.get_paginator("list_parts").paginate(
                    Bucket=self.bucket, Key=self._segment_key(upload_id, 0), UploadId=multipart_id):
                parts += page.get("Parts", [])
        except ClientError as err:
            if _missing(err):
                raise FileNotFoundError(multipart_id) from None
            raise
        return parts

    def complete_multipart(self, upload_id: str, multipart_id: str, parts: list[dict]) -> None:
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self._segment_key(upload_id, 0), UploadId=multipart_id,
            MultipartUpload={"Parts": [{key: part[key] for key in ("PartNumber", "ETag", "ChecksumSHA256")
                                        if key in part} for part in parts]})

    def abort_multipart(self, upload_id: str, multipart_id: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._segment_key(upload_id, 0),
                                               UploadId=multipart_id)
        except ClientError as err:
            if not _missing(err):
                raise

    def read_upload_range(self, upload_id: str, start: int, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """A completed multipart upload's bytes from ``start`` (it is the upload's one segment)."""
        return self._read_key(self._segment_key(upload_id, 0), start, chunk_size)

    def upload_ids(self) -> Iterator[tuple[str, datetime]]:
        """Every upload with stored segments, with the time of its newest segment."""
        prefix = f"{self.prefix}uploads/"
        newest: dict[str, datetime] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                upload_id = item["Key"][len(prefix):].partition("/")[0]
                newest[upload_id] = max(newest.get(upload_id, item["LastModified"]), item["LastModified"])
        yield from newest.items()


class _IterReader:
    """A read() over an iterator of chunks, for boto3's managed upload (memory: one chunk plus its buffers)."""

    def __init__(self, chunks: Iterator[bytes]):
        self.chunks = chunks
        self.buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buffer += chunk
        if size < 0:
            data, self.buffer = self.buffer, b""
        else:
            data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def _is_hex64(text: str) -> bool:
    return len(text) == 64 and HEX.issuperset(text)


