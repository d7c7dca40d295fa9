import shlex
from pathlib import Path

import pytest

from regctl.errors import EXIT_EVALUATION_FAILED
from regctl.sandbox import (
    SANDBOX_HOME,
    Limits,
    Runner,
    SandboxUnavailable,
    clean_environment,
    make_cgroup,
    render_command,
    sandbox_arguments,
)
from regctl.sandbox.mounts import gpu_devices


def _binds(argv: list[str]) -> list[tuple[str, str, str]]:
    """(option, source, destination) of every bind in a bubblewrap argv."""
    return [(argv[i], argv[i + 1], argv[i + 2]) for i in range(len(argv) - 2)
            if argv[i] in ("--bind", "--ro-bind", "--dev-bind", "--ro-bind-try", "--dev-bind-try")]


def _virtualenv(folder: Path) -> Path:
    (folder / "bin").mkdir(parents=True)
    (folder / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = false\n")
    return folder


def test_only_allowlisted_variables_reach_a_gpu_evaluation_with_a_fresh_home():
    env = {"PATH": "/usr/bin", "VIRTUAL_ENV": "/venv", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC",
           "HOME": "/home/a", "OMP_NUM_THREADS": "4", "CUDA_VISIBLE_DEVICES": "0", "NVIDIA_VISIBLE_DEVICES": "all",
           "MY_DB_URL": "postgresql://u:pass@h/db", "REGCTL_TOKEN": "rrt_x", "AWS_SECRET_ACCESS_KEY": "s",
           "HF_TOKEN": "h", "DB_PASSWORD": "p", "SSH_AUTH_SOCK": "/s", "PGPASSWORD": "p", "XDG_CONFIG_HOME": "/c",
           "REGISTRY_DATABASE_URL": "postgresql://", "LD_PRELOAD": "/x.so", "PYTHONPATH": "/home/a/src",
           "OMP_SECRET_KEY": "k"}
    assert clean_environment(env, accelerator="gpu") == {
        "PATH": "/usr/bin", "VIRTUAL_ENV": "/venv", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC",
        "OMP_NUM_THREADS": "4", "CUDA_VISIBLE_DEVICES": "0", "NVIDIA_VISIBLE_DEVICES": "all",
        "HOME": SANDBOX_HOME, "TMPDIR": "/tmp", "XDG_CONFIG_HOME": f"{SANDBOX_HOME}/.config",
        "XDG_CACHE_HOME": f"{SANDBOX_HOME}/.cache", "XDG_DATA_HOME": f"{SANDBOX_HOME}/.local/share"}


def test_placeholders_are_shell_quoted():
    command = render_command("python {files}/eval.py --out={metrics} --seed {seed}", Path("/a b/files"),
                             Path("/w/m's.json"), 3)
    assert shlex.split(command) == ["python", "/a b/files/eval.py", "--out=/w/m's.json", "--seed", "3"]


def test_the_root_and_the_home_are_never_bound_and_tmp_is_fresh(tmp_path):
    argv = sandbox_arguments(tmp_path / "run-0", tmp_path / "files", {"PATH": "/usr/bin"}, Limits(timeout_s=5))
    sources = {source for _, source, _ in _binds(argv)}
    assert "/" not in sources and str(Path.home()) not in sources and "/etc" not in sources
    assert not any(source.startswith(("/etc/shadow", "/etc/ssl/private", "/var", "/srv")) for source in sources)
    assert argv[argv.index("/tmp") - 1] == "--tmpfs" and argv[argv.index(SANDBOX_HOME) - 1] == "--tmpfs"
    assert ("--bind", str(tmp_path / "run-0"), str(tmp_path / "run-0")) in _binds(argv)
    assert ("--ro-bind", str(tmp_path / "files"), str(tmp_path / "files")) in _binds(argv)
    assert {"--unshare-net", "--unshare-pid", "--die-with-parent"} <= set(argv)
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    assert ("--ro-bind-try", "/proc/sys", "/proc/sys") in _binds(argv)


def test_a_virtualenv_under_tmp_is_bound_after_the_fresh_tmp(tmp_path):
    venv = _virtualenv(tmp_path / "venv")
    argv = sandbox_arguments(tmp_path / "run-0", tmp_path / "files",
                             {"VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}:/usr/bin"}, Limits(timeout_s=5))
    bind = argv.index(str(venv.resolve()))
    assert argv[bind - 1] == "--ro-bind" and bind > argv.index("/tmp")


def test_a_virtualenv_inside_a_checkout_is_bound_alone_never_the_registrys_var_beside_it(tmp_path):
    checkout = tmp_path / "checkout"
    venv = _virtualenv(checkout / ".venv")
    (checkout / "var" / "blobs").mkdir(parents=True)
    argv = sandbox_arguments(tmp_path / "run-0", tmp_path / "files", {"VIRTUAL_ENV": str(venv)},
                             Limits(timeout_s=5))
    sources = [source for _, source, _ in _binds(argv)]
    assert str(venv.resolve()) in sources
    assert not any(source in (str(checkout), str(tmp_path)) or source.startswith(str(checkout / "var"))
                   for source in sources)


def test_a_folder_that_is_not_a_python_environment_is_not_bound(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / "var").mkdir(parents=True)
    argv = sandbox_arguments(tmp_path / "run-0", tmp_path / "files", {"VIRTUAL_ENV": str(checkout)},
                             Limits(timeout_s=5))
    assert str(checkout) not in argv


def test_a_gpu_evaluation_gets_the_nvidia_device_nodes_and_a_cpu_one_does_not(tmp_path):
    dev = tmp_path / "dev"
    (dev / "nvidia-caps").mkdir(parents=True)
    for name in ("nvidia0", "nvidiactl", "nvidia-uvm", "null", "nvidia-caps/nvidia-cap1"):
        (dev / name).touch()
    gpu = gpu_devices(dev, listing="", root=tmp_path, path="")
    assert [Path(node).name for node in gpu.nodes] == ["nvidia0", "nvidiactl", "nvidia-uvm", "nvidia-cap1"]
    limits = Limits(timeout_s=5)
    argv = sandbox_arguments(tmp_path / "run", tmp_path / "files", {}, limits, accelerator="gpu", gpu=gpu)
    assert [(source, destination) for option, source, destination in _binds(argv) if option == "--dev-bind"] == [
        (node, node) for node in gpu.nodes]
    cpu = sandbox_arguments(tmp_path / "run", tmp_path / "files", {}, limits, accelerator="cpu", gpu=gpu)
    assert "--dev-bind" not in cpu


def test_tmpfs_folders_are_sized_within_the_memory_limit(tmp_path):
    argv = sandbox_arguments(tmp_path / "run", tmp_path / "files", {}, Limits(timeout_s=5, memory_mb=1024))
    sizes = [int(argv[i + 1]) for i, option in enumerate(argv) if option == "--size"]
    assert len(sizes) == 3 and sum(sizes) <= 1024 * 2**20


def test_a_sandbox_that_cannot_be_built_refuses_with_exit_3(monkeypatch):
    monkeypatch.setenv("REGCTL_BWRAP", "/bin/false")
    with pytest.raises(SandboxUnavailable) as refused:
        Runner(sandboxed=True)
    assert refused.value.exit_code == EXIT_EVALUATION_FAILED and "--no-sandbox" in refused.value.message
    monkeypatch.setenv("REGCTL_BWRAP", "/nonexistent/bwrap")
    with pytest.raises(SandboxUnavailable):
        Runner(sandboxed=True)
    assert Runner(sandboxed=False).kind == "none"


def test_an_unknown_limit_mechanism_is_refused(monkeypatch):
    monkeypatch.setenv("REGCTL_SANDBOX_LIMITS", "ulimit")
    with pytest.raises(SandboxUnavailable, match="REGCTL_SANDBOX_LIMITS"):
        make_cgroup(Limits(timeout_s=5))
    monkeypatch.setenv("REGCTL_SANDBOX_LIMITS", "watchdog")
    assert make_cgroup(Limits(timeout_s=5)) is None


def test_the_evaluation_starts_from_the_environment_it_is_given_never_from_this_process(tmp_path):
    (tmp_path / "files").mkdir()
    given = {"PATH": "/given/bin:/usr/bin:/bin", "VIRTUAL_ENV": "/given", "API_TOKEN": "rrt_x"}
    result = Runner(sandboxed=False).run('echo "$PATH|$VIRTUAL_ENV|${API_TOKEN:-none}"', tmp_path / "run",
                                         tmp_path / "files", 10, None, given)
    assert result.exit_code == 0 and result.stdout_tail.strip() == "/given/bin:/usr/bin:/bin|/given|none"


def test_verify_options_hand_over_a_copy_of_the_environment_they_were_given():
    import os

    from regctl.verify import VerifyOptions

    given = {"PATH": "/given/bin"}
    env = VerifyOptions(env=given).evaluation_env()
    env["PATH"] = "changed"
    assert given == {"PATH": "/given/bin"}
    assert VerifyOptions().evaluation_env() == dict(os.environ)
