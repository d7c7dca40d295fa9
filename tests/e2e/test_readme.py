"""The README's quick start, walked as a newcomer walks it: start the registry the way `make run` does, then run
every command of the quick start, in order, over real HTTP, and check what the README says each one does.

The commands are read from README.md, not copied here: a command added to the quick start without an outcome this
test knows fails it, and so does an outcome (an exit code, a sentence) that stops being true. What the README
shows as `http://127.0.0.1:8080` and `<the printed token>` becomes the address this registry serves on and the
token it printed.
"""

import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.live import BIN, free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
#: what the README calls the registry's address: make run's default HOST and PORT
DEFAULT_URL = "http://127.0.0.1:8080"
SEED_TIMEOUT_S = 600


def quick_start() -> str:
    text = README.read_text()
    start = text.index("## Quick start")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def shell_blocks(section: str) -> list[list[str]]:
    return [block.strip("\n").splitlines() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


@dataclass
class Step:
    line: str  # as the README writes it
    words: list[str]  # the command, without its comment
    comment: str
    previous: "Step | None" = None

    @property
    def command(self) -> str:
        return " ".join(self.words)

    @property
    def exit_code(self) -> int:
        """The exit status the README gives in the comment ('exit 1'); for 'the same, ...' that of the command
        before; else 0."""
        found = re.search(r"\bexit (\d+)\b", self.comment)
        if found:
            return int(found.group(1))
        if self.comment.startswith("the same") and self.previous is not None:
            return self.previous.exit_code
        return 0


def steps(lines: list[str]) -> list[Step]:
    parsed: list[Step] = []
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        # a placeholder such as <the printed token>, or $(cat FILE), is one word
        words = shlex.split(re.sub(r"<[^<>]+>|\$\([^()]+\)", lambda m: m.group().replace(" ", "_"), line),
                            comments=True)
        comment = line.split("#", 1)[1].strip() if "#" in line else ""
        parsed.append(Step(line, words, comment, parsed[-1] if parsed else None))
    return parsed


# --- the registry, as `make run` starts it --------------------------------------------------------------------------

@dataclass
class Served:
    url: str
    var: Path
    log: Path

    def printed(self) -> str:
        return self.log.read_text(errors="replace")


def make_run_commands(port: int) -> list[list[str]]:
    """The registry commands of `make run` (the set-up steps before them need nothing here: this is the venv)."""
    planned = subprocess.run(["make", "-n", "run", f"PORT={port}", "HOST=127.0.0.1"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    commands = [shlex.split(line) for line in planned.splitlines() if re.match(r"^\S*/registry ", line)]
    assert [c[1] for c in commands] == ["db", "serve"], planned
    return [[str(BIN / "registry"), *c[1:]] for c in commands]


@pytest.fixture
def served(tmp_path):
    """`make run` on the embedded default: a fresh var folder, the migrations, then `registry serve --demo`, which
    publishes the first example and has the in-process reference worker verify it."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("REGISTRY_", "REGCTL_"))}
    env["REGISTRY_VAR_DIR"] = str(tmp_path / "var")
    upgrade, serve = make_run_commands(port)
    assert "--demo" in serve and serve[-4:] == ["--host", "127.0.0.1", "--port", str(port)]
    subprocess.run(upgrade, cwd=ROOT, env=env, check=True, capture_output=True)
    log = tmp_path / "make-run.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(serve, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", tmp_path / "var", log)
    try:
        deadline = time.monotonic() + SEED_TIMEOUT_S
        while "demo: reference verification of" not in served.printed():
            assert process.poll() is None, served.printed()
            assert time.monotonic() < deadline, "the demo was not verified in time:\n" + served.printed()
            time.sleep(0.5)
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


# --- running a step as a person at a terminal would ------------------------------------------------------------------

@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_at_a_terminal(words: list[str], env: dict, answer: str = "y\n") -> Ran:
    """Run a command with a terminal as its input, typing ``answer`` (regctl asks before it runs someone else's
    code there, and the README's reader answers yes)."""
    primary, secondary = os.openpty()
    try:
        os.write(primary, answer.encode())
        process = subprocess.Popen(words, cwd=ROOT, env=env, stdin=secondary, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        stdout, stderr = process.communicate(timeout=SEED_TIMEOUT_S)
    finally:
        os.close(secondary)
        os.close(primary)
    return Ran(process.returncode, stdout, stderr)


# --- what each command of the quick start is said to do ------------------------------------------------------------

def badges(served: Served, name: str) -> dict:
    return requests.get(f"{served.url}/api/v1/artifacts/{name}/versions/latest/badges", timeout=10).json()


def shows_a_verified_entry(ran: Ran, served: Served, tmp: Path) -> None:
    """'published and verified by a reference job'"""
    assert ran.stdout.startswith("demo/digits-logreg@1.0.0"), ran.stdout
    assert "reproduced: yes" in ran.stdout and "(reference" in ran.stdout, ran.stdout
    states = badges(served, "demo/digits-logreg")
    assert states["functional"] and states["reproduced_state"] == "reproduced", states


def publishes(ran: Ran, served: Served, tmp: Path) -> None:
    assert "published demo/iris-overclaimed@1.0.0" in ran.stdout, ran.output
    assert re.search(r"^digest: sha256:[0-9a-f]{64}$", ran.stdout, re.M), ran.stdout
    assert requests.get(f"{served.url}/api/v1/artifacts/demo/iris-overclaimed", timeout=10).status_code == 200


def one_claim_fails_here(ran: Ran, served: Served, tmp: Path) -> None:
    """'runs the evaluation here: one claim fails'"""
    assert "sandbox: bubblewrap" in ran.stdout, ran.output
    verdicts = re.findall(r"\b(HELD|FAILED)\b", ran.stdout)
    assert verdicts.count("FAILED") == 1 and "HELD" in verdicts, ran.stdout
    assert "outcome: claim failed" in ran.stdout


def one_claim_fails_on_the_reference_worker(ran: Ran, served: Served, tmp: Path) -> None:
    """'the same, by the registry's reference worker': a job that ran (succeeded) and found a claim false"""
    assert re.search(r"job \w+: succeeded \(it ran; outcome: claim failed\)", ran.stderr), ran.stderr
    verdicts = re.findall(r"\b(HELD|FAILED)\b", ran.stdout)
    assert verdicts.count("FAILED") == 1 and "HELD" in verdicts, ran.stdout
    assert badges(served, "demo/iris-overclaimed")["reproduced_state"] == "failed"


def pulls_the_files(ran: Ran, served: Served, tmp: Path) -> None:
    target = tmp / "digits"
    assert f"pulled demo/digits-logreg@1.0.0 into {target}" in ran.stdout, ran.output
    example = ROOT / "examples" / "digits-logreg"
    for path in ("eval.py", "configs", "weights"):
        assert (target / path).exists(), path
    assert (target / "eval.py").read_bytes() == (example / "eval.py").read_bytes()


OUTCOMES = {
    "regctl show demo/digits-logreg": shows_a_verified_entry,
    "regctl push examples/iris-overclaimed": publishes,
    "regctl verify demo/iris-overclaimed": one_claim_fails_here,
    "regctl verify demo/iris-overclaimed --remote": one_claim_fails_on_the_reference_worker,
    "regctl pull demo/digits-logreg -o /tmp/digits": pulls_the_files,
}


def _exports(step: Step, served: Served, env: dict) -> None:
    """``export NAME=VALUE ...``, where a value may be a placeholder (<the printed token>) or $(cat FILE)."""
    assignments = step.line.split("#", 1)[0].split(None, 1)[1]
    for name, value in re.findall(r"(\w+)=(\$\([^)]*\)|<[^>]*>|\S+)", assignments):
        if name == "REGCTL_URL":
            assert value == DEFAULT_URL, f"the README's REGCTL_URL is not where make run serves: {value}"
            value = served.url
        elif name == "REGCTL_TOKEN":
            value = _token(value, served)
        env[name] = value


def _token(value: str, served: Served) -> str:
    """The README's token: '<the printed token>' (what make run printed) or '$(cat var/demo-token)'."""
    printed = re.findall(r"export REGCTL_TOKEN=(rrt_\S+)", served.printed())
    assert len(printed) == 1, served.printed()
    if value.startswith("<") and "printed token" in value:
        return printed[0]
    assert value == "$(cat var/demo-token)", f"a token the test cannot find: {value}"
    kept = (served.var / "demo-token").read_text().strip()
    assert kept == printed[0]
    return kept


def test_the_quick_start_works_as_written(served, tmp_path):
    first, second = shell_blocks(quick_start())[:2]
    assert [step.command for step in steps(first)][0] == "make run"

    env = {key: value for key, value in os.environ.items() if not key.startswith(("REGCTL_", "VIRTUAL_ENV"))}
    env.update({"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "home" / "config"),
                "XDG_CACHE_HOME": str(tmp_path / "home" / "cache")})
    walked = []
    for step in steps(second):
        if step.words[:1] == ["."]:  # activating the virtualenv: this test runs in it
            assert (ROOT / step.words[1]).resolve() == (BIN / "activate").resolve()
            env.update({"VIRTUAL_ENV": str(BIN.parent), "PATH": f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}"})
            continue
        if step.words[0] == "export":
            _exports(step, served, env)
            continue
        assert step.command in OUTCOMES, f"the quick start has a command this test does not know: {step.line}"
        words = [str(tmp_path / word[len("/tmp/"):]) if word.startswith("/tmp/") else word for word in step.words]
        ran = run_at_a_terminal([str(BIN / "regctl"), *words[1:]], env)
        assert ran.code == step.exit_code, f"{step.line}\nexit {ran.code}\n{ran.output}"
        assert "Traceback" not in ran.stderr, ran.stderr
        OUTCOMES[step.command](ran, served, tmp_path)
        walked.append(step.command)
    assert walked == [command for command in OUTCOMES if command in walked] and set(walked) == set(OUTCOMES), \
        f"the quick start no longer shows: {sorted(set(OUTCOMES) - set(walked))}"

    for url in re.findall(r"http://127\.0\.0\.1:8080/\S*", quick_start().split("```")[-1]):
        page = requests.get(served.url + url[len(DEFAULT_URL):].rstrip(".,"), timeout=10)
        assert page.status_code == 200, url


def test_the_quick_start_says_what_make_run_does():
    section = quick_start()
    first = shell_blocks(section)[0]
    assert [step.command for step in steps(first)] == ["make run", "make test"]
    assert DEFAULT_URL in steps(first)[0].comment
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^PORT \?= 8080$", makefile, re.M) and re.search(r"^HOST \?= 127\.0\.0\.1$", makefile, re.M)
