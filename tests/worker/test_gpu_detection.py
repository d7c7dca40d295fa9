"""How a worker finds its GPUs: nvidia-smi's output, a fake nvidia-smi on PATH, and what --gpu means."""

import os
import stat

import pytest

from reproreg_schemas.workers import has_memory, memory_gb_from_mib
from reproreg_worker.embedded import create_executor
from reproreg_worker.gpus import NVIDIA_SMI_QUERY, GpuInfo, detect_gpus, parse_nvidia_smi, resolve_gpu


def fake_nvidia_smi(folder, output: str, exit_code: int = 0) -> None:
    """An nvidia-smi that prints ``output`` only when asked the worker's exact query, and records its arguments."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "nvidia-smi"
    query = " ".join(NVIDIA_SMI_QUERY)
    script.write_text(f"""#!/bin/sh
echo "$@" > "{folder}/args"
if [ "$*" != "{query}" ]; then echo "unexpected arguments: $*" >&2; exit 9; fi
cat <<'OUT'
{output}OUT
exit {exit_code}
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def fake_path(tmp_path, monkeypatch):
    """PATH holding only the fake's folder (and the shell it needs): no real nvidia-smi is found."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}/bin{os.pathsep}/usr/bin")
    return folder


def test_memory_is_counted_in_gigabytes_that_meet_the_cards_name():
    assert memory_gb_from_mib(81920) == 85.8  # A100-80GB
    assert memory_gb_from_mib(81559) == 85.5  # H100-80GB
    assert memory_gb_from_mib(15360) == 16.1  # T4 (16 GB)
    assert memory_gb_from_mib(40960) == 42.9  # A100-40GB
    assert has_memory(85.5, 80) and not has_memory(42.9, 80) and has_memory(16.1, None)
    assert not has_memory(None, 8)


def test_one_gpu_is_read_with_its_name_and_memory():
    assert parse_nvidia_smi("NVIDIA H100 80GB HBM3, 81559\n") == GpuInfo("NVIDIA H100 80GB HBM3", 85.5, 1)


def test_several_gpus_count_with_the_smallest_memory():
    output = "NVIDIA A100-SXM4-80GB, 81920\nNVIDIA A100-SXM4-40GB, 40960\n"
    assert parse_nvidia_smi(output) == GpuInfo("NVIDIA A100-SXM4-80GB", 42.9, 2)


def test_output_without_readable_gpus_is_no_gpu():
    assert parse_nvidia_smi("") is None
    assert parse_nvidia_smi("No devices were found\n") is None
    assert parse_nvidia_smi("NVIDIA H100, [N/A]\n") is None


def test_a_fake_nvidia_smi_on_path_is_detected(fake_path):
    fake_nvidia_smi(fake_path, "NVIDIA H100 80GB HBM3, 81559\nNVIDIA H100 80GB HBM3, 81559\n")
    assert detect_gpus() == GpuInfo("NVIDIA H100 80GB HBM3", 85.5, 2)
    assert (fake_path / "args").read_text().split() == NVIDIA_SMI_QUERY


def test_no_nvidia_smi_or_a_failing_one_is_no_gpu(fake_path):
    assert detect_gpus() is None
    fake_nvidia_smi(fake_path, "NVIDIA-SMI has failed because it couldn't communicate with the driver\n",
                    exit_code=9)
    assert detect_gpus() is None


def test_gpu_option_detects_and_a_name_only_renames():
    detected = GpuInfo("NVIDIA H100 80GB HBM3", 85.5, 2)
    assert resolve_gpu(None, detected) is None
    assert resolve_gpu("auto", detected) == detected
    assert resolve_gpu("H100-80GB", detected) == GpuInfo("H100-80GB", 85.5, 2)
    with pytest.raises(ValueError, match="finds no NVIDIA GPU"):
        resolve_gpu("H100-80GB", None)


def test_the_in_process_executor_takes_gpu_jobs_only_on_a_machine_with_a_gpu(fake_path, tmp_path):
    submitted = []
    without = create_executor(url="http://registry", token="t", home=tmp_path / "a", environment={"PATH": "/bin"})
    without._submit = submitted.append
    without.dispatch("gpu-job", "gpu", 60)
    without.dispatch("cpu-job", "cpu", 60)
    assert without.identity.accelerators == ("cpu",) and without.identity.gpu is None
    fake_nvidia_smi(fake_path, "NVIDIA L4, 23034\n")
    with_gpu = create_executor(url="http://registry", token="t", home=tmp_path / "b", environment={"PATH": "/bin"})
    with_gpu._submit = submitted.append
    with_gpu.dispatch("gpu-job-2", "gpu", 60)
    assert with_gpu.identity.accelerators == ("cpu", "gpu")
    assert with_gpu.identity.gpu == GpuInfo("NVIDIA L4", 24.1, 1) and with_gpu.identity.hardware == "gpu=NVIDIA L4"
    assert submitted == ["cpu-job", "gpu-job-2"]
    without.pool.shutdown()
    with_gpu.pool.shutdown()


@pytest.fixture
def worker_command(monkeypatch, tmp_path):
    """``registry worker`` with a broker set and the worker's start recorded, or run for real (``real=True``)."""
    from click.testing import CliRunner

    from reproreg import cli
    from reproreg_worker import celery_consumer

    monkeypatch.setenv("REGISTRY_BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("REGISTRY_VAR_DIR", str(tmp_path / "var"))
    started = []

    def invoke(*args, real=False):
        start = celery_consumer.start_worker if real else (lambda **kwargs: started.append(kwargs))
        monkeypatch.setattr(cli, "_worker", lambda kind: start)
        return CliRunner().invoke(cli.main, ["worker", "--url", "http://127.0.0.1:9", "--token", "t",
                                             "--home", str(tmp_path / "home"), *args])

    return invoke, started


def test_the_worker_command_detects_on_gpu_and_takes_a_name_only_as_a_rename(worker_command):
    invoke, started = worker_command
    assert invoke().exit_code == 0
    assert invoke("--gpu").exit_code == 0
    assert invoke("--gpu", "H100-80GB").exit_code == 0
    assert [kwargs["gpu"] for kwargs in started] == [None, "auto", "H100-80GB"]


def test_the_worker_command_without_a_gpu_refuses_gpu_and_says_why(worker_command, fake_path):
    invoke, _ = worker_command
    result = invoke("--gpu", "H100-80GB", real=True)
    assert result.exit_code == 1 and "nvidia-smi finds no NVIDIA GPU" in result.output
