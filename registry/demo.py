"""`registry serve --demo`: publish the first example and ask a reference worker to verify it."""

from pathlib import Path

from regctl.api import ApiClient
from regctl.commands import push
from regctl.errors import RegctlError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits-logreg"


def seed(url: str, token: str, say) -> None:
    if not (EXAMPLE / "regctl.yaml").exists():
        say(f"demo: {EXAMPLE} is not here (not a source checkout); nothing seeded")
        return
    api = ApiClient(url, token)
    try:
        pushed = push(api, EXAMPLE, show_progress=False)
        if pushed["created"]:
            job = api.request_job(pushed["name"], pushed["version"])
            say(f"demo: published {pushed['name']}@{pushed['version']}; reference verification job {job['id']} queued")
        else:
            say(f"demo: {pushed['name']}@{pushed['version']} is already published")
    except RegctlError as err:
        say(f"demo: could not seed the example: {err.message}")
