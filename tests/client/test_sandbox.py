import shlex
from pathlib import Path

from client.sandbox import Runner, clean_environment, render_command


def test_secrets_are_removed_from_the_environment():
    env = {"PATH": "/usr/bin", "VIRTUAL_ENV": "/venv", "LANG": "C.UTF-8", "HOME": "/home/a",
           "REGCTL_TOKEN": "rrt_x", "AWS_SECRET_ACCESS_KEY": "s", "AWS_PROFILE": "p", "HF_TOKEN": "h",
           "GITHUB_TOKEN": "g", "MY_API_KEY": "k", "DB_PASSWORD": "p", "SSH_AUTH_SOCK": "/s", "PGPASSWORD": "p",
           "REGISTRY_DATABASE_URL": "postgresql://", "GOOGLE_APPLICATION_CREDENTIALS": "/c.json"}
    assert clean_environment(env) == {"PATH": "/usr/bin", "VIRTUAL_ENV": "/venv", "LANG": "C.UTF-8",
                                      "HOME": "/home/a"}


def test_placeholders_are_shell_quoted():
    command = render_command("python {files}/eval.py --out={metrics} --seed {seed}", Path("/a b/files"),
                             Path("/w/m's.json"), 3)
    assert shlex.split(command) == ["python", "/a b/files/eval.py", "--out=/w/m's.json", "--seed", "3"]


def test_a_virtualenv_under_tmp_is_bound_back_into_the_sandbox(tmp_path, monkeypatch):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    monkeypatch.setenv("VIRTUAL_ENV", str(venv))
    monkeypatch.setenv("PATH", f"{venv / 'bin'}:/usr/bin")
    runner = Runner.__new__(Runner)
    runner.sandboxed = True
    argv = runner._argv("true", tmp_path / "work", tmp_path / "files")
    assert argv[argv.index("--tmpfs"):].count(str(venv.resolve())) == 2  # --ro-bind SRC DEST, after the tmpfs
    assert "--unshare-net" in argv and argv[-3:] == ["sh", "-c", "true"]
