"""`registry serve --demo`: publish the first example with regctl and have a reference worker verify it.

The registry drives its own client as any user would, through the ``regctl`` program (never by importing it):
the demo exercises exactly what authors and reviewers run."""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits-logreg"
PUSH_TIMEOUT_S = 300
VERIFY_TIMEOUT_S = 1800


def regctl_program() -> str | None:
    """The regctl installed next to this registry (same environment), else the one on PATH."""
    beside = Path(sys.executable).parent / "regctl"
    return str(beside) if beside.exists() else shutil.which("regctl")


def seed(url: str, token: str, say) -> None:
    if not (EXAMPLE / "regctl.yaml").exists():
        say(f"demo: {EXAMPLE} is not here (not a source checkout); nothing seeded")
        return
    program = regctl_program()
    if program is None:
        say("demo: regctl is not installed; nothing seeded")
        return
    with tempfile.TemporaryDirectory(prefix="registry-demo-") as home:
        env = {"PATH": str(Path(sys.executable).parent), "HOME": home, "REGCTL_URL": url, "REGCTL_TOKEN": token,
               "REGCTL_CONFIG": str(Path(home) / "config.json"), "REGCTL_CACHE_DIR": str(Path(home) / "cache")}
        pushed = _regctl(program, env, PUSH_TIMEOUT_S, "push", str(EXAMPLE), "--json")
        if pushed is None:
            say("demo: could not publish the example (see regctl's message above)")
            return
        if not pushed["created"]:
            say(f"demo: {pushed['name']}@{pushed['version']} is already published")
            return
        say(f"demo: published {pushed['name']}@{pushed['version']}; a reference worker verifies it now")
        report = _regctl(program, env, VERIFY_TIMEOUT_S, "verify", "--remote",
                         f"{pushed['name']}@{pushed['version']}", "--json")
        outcome = report.get("outcome", "unknown") if report else "not run (see regctl's message above)"
        say(f"demo: reference verification of {pushed['name']}@{pushed['version']}: {outcome}")


def _regctl(program: str, env: dict, timeout_s: int, *args: str) -> dict | None:
    """Run regctl; its progress and errors go to this process's stderr, its JSON answer is returned."""
    try:
        done = subprocess.run([program, *args], env=env, stdout=subprocess.PIPE, timeout=timeout_s, text=True)
    except (OSError, subprocess.TimeoutExpired):
        return None
    try:
        return json.loads(done.stdout) if done.stdout.strip() else None
    except ValueError:
        return None
