"""A stand-in for S3: moto's standalone server as its own process, spoken to over real HTTP, as S3 would be."""

import os
import secrets
import subprocess
import time

import pytest
import requests

from tests.live import BIN, free_port

#: dummy credentials for boto3's usual chain, in the tests and in the registry process
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true"}


#: the smallest part S3 accepts (all but the last part of an upload)
PART_BYTES = 5 * 1024 * 1024


class MotoServer:
    def __init__(self, log_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> "MotoServer":
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen([BIN / "moto_server", "-H", "127.0.0.1", "-p", str(self.port)],
                                        env={**os.environ, **CREDENTIALS}, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited: {self.log_path.read_text()}")
            try:
                requests.get(self.url, timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("moto_server did not start within 30 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self._log.close()

    def requests_log(self) -> str:
        """What the server logged: one line per request it received."""
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(signature_version="s3v4"))

    def new_bucket(self) -> str:
        name = f"registry-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name

    def registry_env(self, bucket: str, prefix: str = "blobs-prefix") -> dict[str, str]:
        """What a registry process needs to keep its blobs in ``bucket`` on this server."""
        return {**CREDENTIALS, "REGISTRY_STORAGE": "s3", "REGISTRY_S3_BUCKET": bucket, "REGISTRY_S3_PREFIX": prefix,
                "REGISTRY_S3_ENDPOINT_URL": self.url,
                # small parts, so that the suite's files of a few MB already go straight to the bucket
                "REGISTRY_S3_MULTIPART_THRESHOLD_BYTES": str(PART_BYTES), "REGISTRY_S3_PART_BYTES": str(PART_BYTES)}


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """One moto server per test session; each test takes a bucket of its own (``moto_server.new_bucket()``)."""
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    yield server
    server.stop()
