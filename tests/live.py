"""A registry server running as its own process, and regctl run as a subprocess against it."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveRegistry:
    def __init__(self, database_url: str, blob_dir: Path, log_path: Path, **env: str):
        self.database_url = database_url
        self.blob_dir = blob_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "REGISTRY_DATABASE_URL": database_url, "REGISTRY_BLOB_DIR": str(blob_dir), **env}
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> "LiveRegistry":
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen([BIN / "registry", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                                        env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the registry exited: {self.log_path.read_text()}")
            try:
                requests.get(f"{self.url}/api/v1/openapi.json", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the registry did not start within 30 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self._log.close()

    def restart(self) -> "LiveRegistry":
        """Kill the server, as a crash would, and start it again on the same port, database and blob folder."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()
        return self.start()

    def admin(self, *args: str) -> str:
        result = subprocess.run([BIN / "registry", *args], env=self.env, capture_output=True, text=True, check=True)
        return result.stdout

    def admin_result(self, *args: str) -> subprocess.CompletedProcess:
        """An admin command whose exit status matters (not raised on)."""
        return subprocess.run([BIN / "registry", *args], env=self.env, capture_output=True, text=True)

    def create_user(self, name: str, *flags: str) -> str:
        self.admin("users", "create", name, *flags)
        return self.admin("tokens", "create", name).strip()

    def peak_rss_bytes(self) -> int:
        """The server's peak resident set size so far (VmHWM)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmHWM")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    peak_rss_bytes: int

    def json(self):
        return json.loads(self.stdout)


class Regctl:
    """regctl as a user sees it: a subprocess with its own config and cache folders."""

    def __init__(self, registry: LiveRegistry, home: Path, token: str | None):
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("REGCTL_")}
        self.env.update({"REGCTL_URL": registry.url, "REGCTL_CACHE_DIR": str(home / "cache"),
                         "XDG_CONFIG_HOME": str(home / "config"), "HOME": str(home),
                         # evaluations run in the verifier's environment: this virtualenv
                         "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}", "VIRTUAL_ENV": str(BIN.parent)})
        if token:
            self.env["REGCTL_TOKEN"] = token
        self.home = home

    def __call__(self, *args, cwd: Path | None = None, timeout: float = 600) -> Result:
        """Run regctl; its peak RSS is its own address space's high-water mark (VmHWM), sampled while it runs.

        Not wait4's ru_maxrss: Linux carries the spawning process's high-water mark into a child at exec (the
        address space it replaces is the test process's, vfork-style), so that figure is never below this test
        process's own size."""
        process = subprocess.Popen([BIN / "regctl", *map(str, args)], env=self.env, cwd=cwd or self.home,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        output: dict[str, bytes] = {}
        readers = [threading.Thread(target=lambda n=n, s=s: output.__setitem__(n, s.read()))
                   for n, s in (("out", process.stdout), ("err", process.stderr))]
        for reader in readers:
            reader.start()
        peak = [0]
        watcher = threading.Thread(target=_watch_high_water_mark, args=(process, peak), daemon=True)
        watcher.start()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        watcher.join()
        for reader in readers:
            reader.join()
        return Result(process.returncode, output["out"].decode(), output["err"].decode(), peak[0])


def _watch_high_water_mark(process: subprocess.Popen, peak: list[int], interval_s: float = 0.01) -> None:
    """Keep the largest VmHWM of ``process`` (it only grows) until it exits: the last sample is its peak, short
    only of what it allocated in its final moments."""
    status = Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]) * 1024)
        except (FileNotFoundError, ProcessLookupError, ValueError):
            break
        time.sleep(interval_s)


def logged_requests(registry: LiveRegistry, method: str, path_part: str) -> int:
    """How many requests the server's access log shows for a method and a path fragment."""
    registry._log.flush()
    return sum(1 for line in registry.log_path.read_text(errors="replace").splitlines()
               if f'"{method} ' in line and path_part in line)


def s3_client(registry: LiveRegistry):
    """boto3 on the bucket of a registry that keeps its blobs in S3 (moto's server in the tests)."""
    import boto3

    return boto3.client("s3", endpoint_url=registry.env["REGISTRY_S3_ENDPOINT_URL"], region_name="us-east-1",
                        aws_access_key_id=registry.env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=registry.env["AWS_SECRET_ACCESS_KEY"])


def s3_keys(registry: LiveRegistry, folder: str) -> list[str]:
    """The keys under ``<prefix>/<folder>/`` of a registry's bucket."""
    prefix = f"{registry.env.get('REGISTRY_S3_PREFIX', '').strip('/')}/{folder}/".lstrip("/")
    pages = s3_client(registry).get_paginator("list_objects_v2").paginate(
        Bucket=registry.env["REGISTRY_S3_BUCKET"], Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def uses_s3(registry: LiveRegistry) -> bool:
    return registry.env.get("REGISTRY_STORAGE") == "s3"


def stored_blobs(registry: LiveRegistry) -> list:
    """The committed blobs: files under the blob folder, or keys in the bucket."""
    if uses_s3(registry):
        return s3_keys(registry, "blobs")
    root = registry.blob_dir / "blobs"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


class SocketMeter:
    """The bytes a process moved through its TCP sockets, from the kernel's per-socket counters (``ss -tinpe``:
    bytes_received, bytes_acked), sampled every ``interval_s`` and kept per socket, split by the other end: its
    clients (sockets on ``port``), the object store (``store_port``), anything else (the database).

    /proc/<pid>/io's rchar/wchar do not count socket traffic (send/recv never pass through vfs_read/vfs_write),
    so they cannot say this. A socket's last ``interval_s`` before it closes can be missed; connections that
    stay open (boto3's pool, regctl's keep-alive) are counted to the byte at each boundary."""

    def __init__(self, pid: int, port: int, store_port: int, interval_s: float = 0.05):
        self.pid, self.port, self.store_port, self.interval_s = pid, port, store_port, interval_s
        self.seen: dict[str, tuple[str, int, int]] = {}  # inode -> (peer, received, sent)
        self.stopped = threading.Event()
        self.available = shutil.which("ss") is not None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "SocketMeter":
        if self.available:
            self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        if self.available:
            self.thread.join()

    def _run(self) -> None:
        while not self.stopped.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        if not self.available:
            return
        pairs, head = [], None
        for line in subprocess.run(["ss", "-tinpeH"], capture_output=True, text=True).stdout.splitlines():
            if line[:1].isspace() and head is not None:
                pairs.append((head, line))
                head = None
            else:
                head = line
        for head, info in pairs:
            if f"pid={self.pid}," not in head:
                continue
            fields = head.split()
            local, remote = fields[3], fields[4]
            inode = next((f for f in fields if f.startswith("ino:")), None)
            counters = dict(item.split(":", 1) for item in info.split() if ":" in item)
            peer = ("clients" if local.endswith(f":{self.port}") else
                    "store" if remote.endswith(f":{self.store_port}") else "other")
            received, sent = int(counters.get("bytes_received", 0)), int(counters.get("bytes_acked", 0))
            old = self.seen.get(inode, (peer, 0, 0))
            self.seen[inode] = (peer, max(old[1], received), max(old[2], sent))

    def totals(self) -> dict:
        self.sample()
        totals = {f"{peer}_{way}_bytes": 0 for peer in ("clients", "store", "other") for way in ("received", "sent")}
        for peer, received, sent in self.seen.values():
            totals[f"{peer}_received_bytes"] += received
            totals[f"{peer}_sent_bytes"] += sent
        return totals
