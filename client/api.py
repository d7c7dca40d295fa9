"""The registry's HTTP API, one method per endpoint. Error envelopes become regctl exceptions."""

from collections.abc import Iterable
from urllib.parse import quote

import requests

from client.errors import ConnectionFailed, ServerError, from_server

TIMEOUT = (10, 300)  # connect, read


class ApiClient:
    def __init__(self, url: str, token: str | None = None):
        self.url = url.rstrip("/")
        self.token = token
        self.http = requests.Session()
        self.http.headers["User-Agent"] = "regctl"
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        try:
            response = self.http.request(method, f"{self.url}/api/v1{path}", **kwargs)
        except requests.ConnectionError as err:
            raise ConnectionFailed(f"cannot reach the registry at {self.url} ({_reason(err)}); is it running, "
                                   "and is REGCTL_URL right?") from None
        except requests.Timeout:
            raise ConnectionFailed(f"the registry at {self.url} did not answer in time") from None
        if response.status_code >= 400:
            raise _error(response)
        return response

    def _json(self, method: str, path: str, **kwargs) -> dict:
        return self._request(method, path, **kwargs).json()

    # --- identity -------------------------------------------------------------------------------------
    def whoami(self) -> dict:
        return self._json("GET", "/whoami")

    # --- blobs ----------------------------------------------------------------------------------------
    def missing_blobs(self, digests: list[str]) -> list[str]:
        return self._json("POST", "/blobs/missing", json={"digests": digests})["missing"]

    def probe_fingerprints(self, fingerprints: list[str]) -> list[str]:
        return self._json("POST", "/blobs/probe", json={"fingerprints": fingerprints})["known"]

    def start_upload(self, digest: str | None, size: int, fingerprint: str | None = None) -> dict:
        return self._json("POST", "/uploads", json={"digest": digest, "size": size, "fingerprint": fingerprint})

    def finalize_upload(self, upload_id: str, digest: str) -> dict:
        return self._json("PUT", f"/uploads/{upload_id}", json={"digest": digest})

    def upload_state(self, upload_id: str) -> dict:
        return self._json("GET", f"/uploads/{upload_id}")

    def upload_bytes(self, upload_id: str, offset: int, body: Iterable[bytes]) -> dict:
        """Send ``body`` (an iterable of chunks with a ``len``) starting at ``offset``."""
        return self._json("PATCH", f"/uploads/{upload_id}", data=body,
                          headers={"Upload-Offset": str(offset), "Content-Type": "application/octet-stream"})

    def download_blob(self, name: str, digest: str, start: int = 0) -> requests.Response:
        headers = {"Range": f"bytes={start}-"} if start else {}
        return self._request("GET", f"/artifacts/{_quote_name(name)}/blobs/{digest}", headers=headers,
                             stream=True)

    # --- keys and verifications ----------------------------------------------------------------------
    def key_challenge(self) -> dict:
        return self._json("POST", "/keys/challenge")

    def register_key(self, public_key: str, name: str | None, challenge: str, signature: str) -> dict:
        return self._json("POST", "/keys", json={"public_key": public_key, "name": name, "challenge": challenge,
                                                 "signature": signature})

    def submit_verification(self, name: str, version: str, report: dict, signature: str, key_id: str,
                            lease: str | None = None) -> dict:
        return self._json("POST", f"/artifacts/{_quote_name(name)}/versions/{quote(version, safe=':')}/verifications",
                          json={"report": report, "signature": signature, "key_id": key_id, "lease": lease})

    # --- venues ------------------------------------------------------------------------------------------
    def add_venue_member(self, slug: str, user: str, role: str) -> dict:
        return self._json("POST", f"/venues/{quote(slug, safe='')}/members", json={"user": user, "role": role})

    # --- reference verification jobs -------------------------------------------------------------------
    def request_job(self, name: str, reference: str | None) -> dict:
        return self._json("POST", f"/artifacts/{_quote_name(name)}/versions/{quote(reference or 'latest', safe=':')}"
                                  "/jobs")

    def get_job(self, job_id: str) -> dict:
        return self._json("GET", f"/jobs/{job_id}")

    def runnable_jobs(self, accelerators: list[str], older_than_s: float) -> list[dict]:
        return self._json("GET", "/jobs/runnable", params={"accelerator": accelerators,
                                                           "older_than_s": older_than_s})["jobs"]

    def lease_job(self, job_id: str, worker: str, accelerators: list[str], hardware: str) -> dict:
        return self._json("POST", f"/jobs/{job_id}/lease",
                          json={"worker": worker, "accelerators": accelerators, "hardware": hardware})

    def heartbeat_job(self, job_id: str, lease: str, log: str = "") -> dict:
        return self._json("POST", f"/jobs/{job_id}/heartbeat", json={"lease": lease, "log": log})

    def fail_job(self, job_id: str, lease: str, failure: str) -> dict:
        return self._json("POST", f"/jobs/{job_id}/fail", json={"lease": lease, "failure": failure})

    def verifications(self, name: str, reference: str) -> list[dict]:
        return self._json("GET", f"/artifacts/{_quote_name(name)}/versions/{quote(reference, safe=':')}/verifications")

    def badges(self, name: str, reference: str | None) -> dict:
        return self._json("GET", f"/artifacts/{_quote_name(name)}/versions/{quote(reference or 'latest', safe=':')}"
                                 "/badges")

    # --- artifacts and versions ------------------------------------------------------------------------
    def publish(self, name: str, version: str, manifest: dict, release: dict) -> dict:
        return self._json("PUT", f"/artifacts/{_quote_name(name)}/versions/{quote(version, safe='')}",
                          json={"manifest": manifest, "release": release})

    def get_version(self, name: str, reference: str | None) -> dict:
        return self._json("GET", f"/artifacts/{_quote_name(name)}/versions/{quote(reference or 'latest', safe=':')}")

    def get_artifact(self, name: str) -> dict:
        return self._json("GET", f"/artifacts/{_quote_name(name)}")

    def yank(self, name: str, version: str, reason: str) -> dict:
        return self._json("POST", f"/artifacts/{_quote_name(name)}/versions/{quote(version, safe=':')}/yank",
                          json={"reason": reason})


def _quote_name(name: str) -> str:
    namespace, _, artifact = name.partition("/")
    return f"{quote(namespace, safe='')}/{quote(artifact, safe='')}"


def _reason(err: Exception) -> str:
    text = str(err)
    return "connection refused" if "refused" in text.lower() else text.split(":")[-1].strip(" ')") or "unreachable"


def _error(response: requests.Response):
    try:
        body = response.json()["error"]
        return from_server(body["code"], body["message"], body.get("details") or {})
    except (ValueError, KeyError, TypeError):
        return ServerError(f"the registry answered HTTP {response.status_code} without an error body",
                           code="HTTP_ERROR", details={"status": response.status_code})
