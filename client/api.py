"""The registry's HTTP API, one method per endpoint. Error envelopes become regctl exceptions.

Requests that are safe to repeat are retried when the registry goes away in the middle of a command (a
connection error, or 502/503/504 from a proxy in front of it), with backoff, for up to ``REGCTL_RETRY_S``
seconds (default 60, read when the outage begins; 0 turns retries off). A registry that cannot be reached at
all on the first request is reported at once: that is a wrong address more often than an outage.

``Backoff`` is regctl's one way to wait out an outage: requests here, and the transfers that resume from where
the registry got to (``regctl.transfer``), wait through it, and a failure that already waited out the budget
(``OutageOutlasted``) is never waited out a second time by an outer loop.
"""

import os
import threading
import time
from collections.abc import Iterable
from urllib.parse import quote, urljoin, urlsplit

import requests
import urllib3

from regctl.config import check_url
from regctl.errors import ConnectionFailed, NotFound, ServerError, UsageError, from_server
from reproreg_schemas.api import MAX_DIGESTS_PER_QUERY

TIMEOUT = (10, 300)  # connect, read
RETRY_ENV = "REGCTL_RETRY_S"
DEFAULT_RETRY_S = 60.0
RETRY_STATUSES = frozenset({502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class StoreUnavailable(ConnectionFailed):
    """The object store refused or lost a presigned transfer (an expired URL, a 5xx): ask the registry again."""


def _no_credentials(request):
    """requests' auth hook for the object store: nothing of the registry's (no token, no .netrc entry) goes
    there; a presigned URL carries its own signature."""
    request.headers.pop("Authorization", None)
    return request


def retry_budget_s() -> float:
    """Seconds to keep retrying through one outage, from ``REGCTL_RETRY_S`` (read each time it is needed)."""
    raw = os.environ.get(RETRY_ENV, "").strip()
    if not raw:
        return DEFAULT_RETRY_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise UsageError(f"{RETRY_ENV} must be a number of seconds (0 turns retries off), not {raw!r}",
                         code="INVALID_SETTING")
    return value


class OutageOutlasted(ConnectionFailed):
    """The registry stayed away for the whole retry budget: whoever catches this must not wait again."""


class Backoff:
    """The waits between attempts through one outage: 0.25 s doubling up to 5 s, until the budget is spent."""

    def __init__(self, budget_s: float | None = None):
        self.deadline = time.monotonic() + (retry_budget_s() if budget_s is None else budget_s)
        self.delay = 0.25
        self.attempts = 0

    def wait(self) -> bool:
        """Sleep before the next attempt; False (without sleeping) once the budget is spent."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(self.delay, remaining))
        self.delay = min(self.delay * 2, 5.0)
        self.attempts += 1
        return True

    def wait_or_raise(self, err: Exception, exhausted: Exception | None = None) -> None:
        """Sleep before trying again after ``err``; once the budget is spent raise ``exhausted`` (by default
        ``err``). An ``err`` that already waited out an outage of its own is raised at once."""
        if isinstance(err, OutageOutlasted):
            raise err
        if not self.wait():
            raise exhausted or err


class ApiClient:
    def __init__(self, url: str, token: str | None = None):
        self.url = check_url(url, "the registry address")
        self.token = token
        self._local = threading.local()
        self.reached = False  # whether the registry has answered once in this command

    @property
    def http(self) -> requests.Session:
        """One HTTP session (and connection pool) per thread: uploads and downloads run on several threads."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["User-Agent"] = "regctl"
            if self.token:
                session.headers["Authorization"] = f"Bearer {self.token}"
        return session

    @property
    def store_http(self) -> requests.Session:
        """The HTTP session for presigned object-store URLs: never the registry's token, never a redirect."""
        session = getattr(self._local, "store_session", None)
        if session is None:
            session = self._local.store_session = requests.Session()
            session.headers["User-Agent"] = "regctl"
            session.auth = _no_credentials
            session.max_redirects = 0
        return session

    def _request(self, method: str, path: str, idempotent: bool | None = None, **kwargs) -> requests.Response:
        """Send one request; repeat it through an outage when that is safe: always for a request the registry
        never received, and for any request when ``idempotent`` (by default: GET, HEAD, PUT, DELETE). A request
        whose body is a one-shot stream must not be idempotent here: its caller resumes it instead."""
        kwargs.setdefault("timeout", TIMEOUT)
        repeatable = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        backoff = None
        while True:
            try:
                response = self.http.request(method, f"{self.url}/api/v1{path}", **kwargs)
            except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                    requests.exceptions.MissingSchema) as err:
                raise UsageError(f"cannot send a request to {self.url}: {err}", code="INVALID_URL") from None
            except (requests.ConnectionError, requests.Timeout) as err:
                if not self.reached or not (repeatable or _never_sent(err)):
                    raise self._unreachable(err) from None
                backoff = backoff or self._outage(_reason(err))
                if not backoff.wait():
                    raise self._unreachable(err, backoff) from None
                continue
            self.reached = True
            if response.status_code in RETRY_STATUSES:
                backoff = backoff or self._outage(f"HTTP {response.status_code}")
                if backoff.wait():
                    response.close()
                    continue
                raise OutageOutlasted(f"the registry at {self.url} answered HTTP {response.status_code} (unavailable)"
                                      f" for {backoff.attempts} retries", code="UNAVAILABLE",
                                      details={"status": response.status_code})
            if response.status_code >= 400:
                raise _error(response)
            return response

    def _outage(self, reason: str) -> Backoff:
        backoff = Backoff()
        if backoff.deadline > time.monotonic():
            from regctl.output import note

            note(f"the registry at {self.url} is not answering ({reason}); retrying for up to "
                 f"{retry_budget_s():g} s")
        return backoff

    def _unreachable(self, err: Exception, backoff: Backoff | None = None) -> ConnectionFailed:
        """The failure to report; once ``backoff`` has waited the outage out, one that no caller waits out again."""
        if backoff is not None:
            return OutageOutlasted(f"lost the registry at {self.url} ({_reason(err)}) and it did not come back "
                                   f"within {RETRY_ENV}={retry_budget_s():g} s; run the same command again to resume")
        if isinstance(err, requests.Timeout) and not isinstance(err, requests.ConnectTimeout):
            return ConnectionFailed(f"the registry at {self.url} did not answer in time")
        if not self.reached:
            return ConnectionFailed(f"cannot reach the registry at {self.url} ({_reason(err)}); is it running, "
                                    "and is REGCTL_URL right?")
        return ConnectionFailed(f"lost the registry at {self.url} ({_reason(err)}); run the same command again to "
                                "resume")

    def _json(self, method: str, path: str, **kwargs) -> dict:
        return self._request(method, path, **kwargs).json()

    # --- identity -------------------------------------------------------------------------------------
    def whoami(self) -> dict:
        return self._json("GET", "/whoami")

    # --- blobs ----------------------------------------------------------------------------------------
    def missing_blobs(self, digests: list[str]) -> list[str]:
        """The digests the registry lacks (for this user), asking in batches the registry accepts."""
        missing = []
        for start in range(0, len(digests), MAX_DIGESTS_PER_QUERY):
            batch = digests[start:start + MAX_DIGESTS_PER_QUERY]
            missing += self._json("POST", "/blobs/missing", json={"digests": batch}, idempotent=True)["missing"]
        return missing

    def probe_fingerprints(self, fingerprints: list[str]) -> list[str]:
        known = []
        for start in range(0, len(fingerprints), MAX_DIGESTS_PER_QUERY):
            batch = fingerprints[start:start + MAX_DIGESTS_PER_QUERY]
            known += self._json("POST", "/blobs/probe", json={"fingerprints": batch}, idempotent=True)["known"]
        return known

    def upload_blob_batch(self, body: Iterable[bytes]) -> dict:
        """Send small blobs framed as POST /blobs/batch expects. The registry stores all of them or none, and
        ``body`` starts again when iterated again, so a batch cut short is simply sent again."""
        return self._json("POST", "/blobs/batch", data=body, idempotent=True,
                          headers={"Content-Type": "application/octet-stream"})

    def start_upload(self, digest: str | None, size: int, fingerprint: str | None = None) -> dict:
        # With a digest, the registry resumes the user's upload of that content: repeating it is harmless.
        return self._json("POST", "/uploads", json={"digest": digest, "size": size, "fingerprint": fingerprint},
                          idempotent=digest is not None)

    def finalize_upload(self, upload_id: str, digest: str) -> dict:
        return self._json("PUT", f"/uploads/{upload_id}", json={"digest": digest})

    def upload_state(self, upload_id: str) -> dict:
        return self._json("GET", f"/uploads/{upload_id}")

    def upload_bytes(self, upload_id: str, offset: int, body: Iterable[bytes]) -> dict:
        """Send ``body`` (an iterable of chunks with a ``len``) starting at ``offset``."""
        return self._json("PATCH", f"/uploads/{upload_id}", data=body, idempotent=False,
                          headers={"Upload-Offset": str(offset), "Content-Type": "application/octet-stream"})

    def presign_parts(self, upload_id: str, parts: list[dict]) -> dict:
        """Announce parts (number, size, sha256 in base64) of a multipart upload; URLs for those not stored."""
        return self._json("POST", f"/uploads/{upload_id}/parts", json={"parts": parts}, idempotent=True)

    def complete_upload(self, upload_id: str, digest: str | None) -> dict:
        return self._json("POST", f"/uploads/{upload_id}/complete", json={"digest": digest})

    def put_part(self, url: str, body, checksum: str) -> None:
        """PUT one part to its presigned URL, with no registry credentials."""
        try:
            response = self.store_http.put(url, data=body, timeout=TIMEOUT, allow_redirects=False,
                                           headers={"x-amz-checksum-sha256": checksum,
                                                    "Content-Type": "application/octet-stream"})
        except (requests.ConnectionError, requests.Timeout) as err:
            raise StoreUnavailable(f"lost the object store while sending a part ({_reason(err)})") from None
        with response:
            if response.status_code >= 300:
                raise StoreUnavailable(f"the object store refused a part (HTTP {response.status_code}: "
                                       f"{_store_error(response)})", code="STORE_REFUSED",
                                       details={"status": response.status_code})

    def blob_path(self, name: str, digest: str) -> str:
        return f"/artifacts/{_quote_name(name)}/blobs/{digest}"

    def download_blob(self, name: str, digest: str, start: int = 0) -> requests.Response:
        """The blob's bytes from ``start``: from the registry, or from the object store it redirects to (a
        presigned URL, fetched without the registry's token)."""
        headers = {"Range": f"bytes={start}-"} if start else {}
        response = self._request("GET", self.blob_path(name, digest), headers=headers,
                                 stream=True, allow_redirects=False)
        if response.status_code not in REDIRECT_STATUSES:
            return response
        location = urljoin(response.url, response.headers.get("Location", ""))
        response.close()
        if urlsplit(location).scheme not in ("http", "https"):
            raise ServerError(f"the registry redirected the download of {digest} to {location!r}",
                              code="BAD_REDIRECT")
        try:
            stored = self.store_http.get(location, headers=headers, stream=True, timeout=TIMEOUT,
                                         allow_redirects=False)
        except (requests.ConnectionError, requests.Timeout) as err:
            raise StoreUnavailable(f"lost the object store while downloading {digest} ({_reason(err)})") from None
        if stored.status_code in (200, 206):
            return stored
        stored.close()
        if stored.status_code == 404:
            raise NotFound(f"the object store has no copy of {digest}; tell the registry's operator",
                           code="NOT_FOUND", details={"digest": digest})
        # 403 is what an expired URL gets: the caller asks the registry again, for a fresh one
        raise StoreUnavailable(f"the object store answered HTTP {stored.status_code} for {digest}",
                               code="STORE_REFUSED", details={"status": stored.status_code})

    # --- keys and verifications ----------------------------------------------------------------------
    def key_challenge(self) -> dict:
        return self._json("POST", "/keys/challenge")

    def list_keys(self) -> list[dict]:
        """The caller's registered signing keys."""
        return self._json("GET", "/keys")

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

    def register_worker(self, name: str, accelerators: list[str], gpu: dict | None) -> dict:
        """Register (or refresh) this reference worker's hardware: ``gpu`` is {model, memory_gb, count} or None."""
        return self._json("PUT", f"/workers/{quote(name, safe='')}", json={"accelerators": accelerators, "gpu": gpu})

    def workers(self) -> list[dict]:
        """The reference workers seen recently, with their hardware."""
        return self._json("GET", "/workers")["workers"]

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

    # --- release stages, review links, access requests --------------------------------------------------
    def release(self, name: str) -> dict:
        return self._json("GET", f"/artifacts/{_quote_name(name)}/release")

    def configure_release(self, name: str, settings: dict) -> dict:
        return self._json("PUT", f"/artifacts/{_quote_name(name)}/release", json=settings)

    def release_action(self, name: str, action: str, body: dict | None = None) -> dict:
        return self._json("POST", f"/artifacts/{_quote_name(name)}/release/{action}", json=body or {},
                          idempotent=True)

    def create_review_link(self, name: str, version: str, days: int) -> dict:
        return self._json("POST", f"/artifacts/{_quote_name(name)}/review-links",
                          json={"version": version, "expires_days": days}, idempotent=False)

    def review_links(self, name: str) -> list[dict]:
        return self._json("GET", f"/artifacts/{_quote_name(name)}/review-links")["links"]

    def revoke_review_link(self, name: str, link_id: int) -> dict:
        return self._json("DELETE", f"/artifacts/{_quote_name(name)}/review-links/{int(link_id)}")

    def request_access(self, name: str, purpose: str) -> dict:
        return self._json("POST", f"/artifacts/{_quote_name(name)}/access-requests", json={"purpose": purpose},
                          idempotent=True)

    def access_requests(self, name: str) -> list[dict]:
        return self._json("GET", f"/artifacts/{_quote_name(name)}/access-requests")["requests"]

    def decide_access(self, name: str, request_id: int, decision: str, conditions: str | None) -> dict:
        return self._json("POST", f"/artifacts/{_quote_name(name)}/access-requests/{int(request_id)}/{decision}",
                          json={"conditions": conditions}, idempotent=True)

    def collaborators(self, name: str) -> list[dict]:
        return self._json("GET", f"/artifacts/{_quote_name(name)}/collaborators")["collaborators"]

    def add_collaborator(self, name: str, user: str) -> dict:
        return self._json("POST", f"/artifacts/{_quote_name(name)}/collaborators", json={"user": user},
                          idempotent=True)

    def remove_collaborator(self, name: str, user: str) -> list[dict]:
        return self._json("DELETE", f"/artifacts/{_quote_name(name)}/collaborators/{quote(user, safe='')}"
                          )["collaborators"]

    def yank(self, name: str, version: str, reason: str) -> dict:
        return self._json("POST", f"/artifacts/{_quote_name(name)}/versions/{quote(version, safe=':')}/yank",
                          json={"reason": reason})


class ReviewLinkClient(ApiClient):
    """The registry as an anonymous review link's holder sees it: no token (the link's secret is the credential),
    one version, its files under ``/review/<secret>/blobs``."""

    def __init__(self, url: str, secret: str):
        super().__init__(url, None)
        self.secret = secret

    def blob_path(self, name: str, digest: str) -> str:
        return f"/review/{quote(self.secret, safe='')}/blobs/{digest}"

    def review_version(self) -> dict:
        return self._json("GET", f"/review/{quote(self.secret, safe='')}")

    def get_version(self, name: str, reference: str | None) -> dict:
        """The one version the link shows, whatever is asked (its holder knows it by the opaque name only)."""
        return self.review_version()


def is_review_link(text: str) -> bool:
    """Whether a command's argument is a review link (``http(s)://HOST[/PREFIX]/review/<secret>``), not a name."""
    return text.startswith(("http://", "https://")) and "/review/" in text


def review_link_parts(link: str) -> tuple[str, str]:
    """``(registry URL, secret)`` of a review link ``https://HOST[/PREFIX]/review/<secret>``."""
    base, found, secret = link.rstrip("/").rpartition("/review/")
    if not found or not base or not secret or "/" in secret:
        raise UsageError(f"{link!r} is not a review link (https://REGISTRY/review/<secret>)", code="INVALID_URL")
    return base, secret


def _quote_name(name: str) -> str:
    namespace, _, artifact = name.partition("/")
    return f"{quote(namespace, safe='')}/{quote(artifact, safe='')}"


def _never_sent(err: Exception) -> bool:
    """Whether the request failed before the registry could have received it (no connection was made)."""
    if isinstance(err, requests.ConnectTimeout):
        return True
    cause = err.args[0] if err.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _reason(err: Exception) -> str:
    text = str(err).lower()
    for marker, reason in (("refused", "connection refused"), ("reset", "connection reset"),
                           ("aborted", "connection closed"), ("disconnected", "connection closed"),
                           ("broken pipe", "connection closed"), ("name or service", "unknown host"),
                           ("timed out", "timed out")):
        if marker in text:
            return reason
    return str(err).split(":")[-1].strip(" ')") or "unreachable"


def _store_error(response: requests.Response) -> str:
    """The error code in an S3 XML error body, or the status line."""
    text = response.text[:2000] if response.content else ""
    start, end = text.find("<Code>"), text.find("</Code>")
    return text[start + 6:end] if 0 <= start < end else response.reason or "error"


def _error(response: requests.Response):
    try:
        body = response.json()["error"]
        return from_server(body["code"], body["message"], body.get("details") or {})
    except (ValueError, KeyError, TypeError):
        return ServerError(f"the registry answered HTTP {response.status_code} without an error body",
                           code="HTTP_ERROR", details={"status": response.status_code})
