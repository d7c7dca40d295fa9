"""A GPU run's energy, read from the driver's counters before and after it: nvidia-smi's output, a fake nvidia-smi
on PATH whose counters move between calls, the field in the signed report (absent without a reading, an older
report without it still accepted), and how the CLI and the version page show it."""

import base64
import html
import logging
import os
import secrets
import stat
from datetime import UTC, datetime

import pytest
from marshmallow import ValidationError

from regctl.cli import verifying as verify_command
from regctl.gpu_energy import ENERGY_QUERY, EnergyMeter, energy_used_j, given_gpus, parse_energy, read_energy
from regctl.sandbox import Runner
from regctl.verify import _run_once
from reproreg_schemas.verdicts import judge, outcome
from reproreg_schemas.verification import REPORT_VERSION, RunSchema, energy_text, report_bytes, run_time_text
from tests.registry.helpers import FILES, publish, register_key


def fake_nvidia_smi(folder, *outputs: str, exit_code: int = 0) -> None:
    """An nvidia-smi that answers only the energy query, printing ``outputs`` in turn (the last one again once
    they run out), and writes one line per call to ``folder/calls``."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, output in enumerate(outputs, start=1):
        (folder / f"out-{number}").write_text(output)
    query = " ".join(ENERGY_QUERY)
    script = folder / "nvidia-smi"
    script.write_text(f"""#!/bin/sh
echo "$*" >> "{folder}/calls"
if [ "$*" != "{query}" ]; then echo "unexpected arguments: $*" >&2; exit 9; fi
n=$(( $(wc -l < "{folder}/calls") ))
if [ "$n" -gt {len(outputs)} ]; then n={len(outputs)}; fi
cat "{folder}/out-$n"
exit {exit_code}
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def calls(folder) -> int:
    path = folder / "calls"
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def fake_path(tmp_path, monkeypatch):
    """PATH holding only the fake's folder and the shell's: no real nvidia-smi is found."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}/bin{os.pathsep}/usr/bin")
    return folder


# -- nvidia-smi's output -----------------------------------------------------------------------------------------

def test_one_gpu_is_read_in_millijoules():
    assert parse_energy("0, 123456789\n") == {0: 123456789.0}


def test_several_gpus_are_read_by_index():
    assert parse_energy("0, 1000\n1, 2500.5\n3, 7\n") == {0: 1000.0, 1: 2500.5, 3: 7.0}


def test_a_gpu_without_an_energy_counter_reads_as_none():
    assert parse_energy("0, [N/A]\n1, [Not Supported]\n2, 40\n") == {0: None, 1: None, 2: 40.0}


def test_garbage_lines_are_skipped():
    output = "WARNING: infoROM is corrupted\n\nNo devices were found\nGPU 0, 12\n-1, 5\n0, 300\n"
    assert parse_energy(output) == {0: 300.0}
    assert parse_energy("") == {} and parse_energy("0, -5\n1, inf\n") == {0: None, 1: None}


# -- the difference ----------------------------------------------------------------------------------------------

def test_the_energy_is_the_sum_of_each_gpus_difference_in_joules():
    before, after = {0: 1_000_000.0, 1: 5_000_000.0}, {0: 2_500_000.0, 1: 8_060_000.0}
    assert energy_used_j(before, after, set()) == 4560.0  # 1.5 kJ + 3.06 kJ
    assert energy_used_j(before, after, {1}) == 3060.0


def test_no_reading_that_does_not_fit_makes_a_number():
    before = {0: 1000.0, 1: 2000.0}
    assert energy_used_j(None, before) is None and energy_used_j(before, None) is None
    assert energy_used_j(before, {0: 1500.0}, set()) is None  # a GPU missing afterwards
    assert energy_used_j(before, {0: 1500.0, 1: None}, set()) is None  # N/A
    assert energy_used_j(before, {0: 500.0, 1: 2500.0}, set()) is None  # went backwards: driver reloaded
    assert energy_used_j(before, {0: 1500.0, 1: 2500.0}, {2}) is None  # not a GPU of this machine
    assert energy_used_j(before, {0: 1500.0, 1: 2500.0}, None) is None  # the run's GPUs cannot be told
    assert energy_used_j({}, {}, set()) is None


def test_the_runs_gpus_come_from_cuda_visible_devices():
    assert given_gpus({}) == set()  # all of them
    assert given_gpus({"CUDA_VISIBLE_DEVICES": "0,2"}) == {0, 2}
    assert given_gpus({"CUDA_VISIBLE_DEVICES": "1,-1,3"}) == {1}  # CUDA stops at the first invalid entry
    assert given_gpus({"CUDA_VISIBLE_DEVICES": ""}) is None  # no GPU given
    assert given_gpus({"CUDA_VISIBLE_DEVICES": "GPU-8f1c2d3e-aaaa-bbbb-cccc-0123456789ab"}) is None


# -- a fake nvidia-smi on PATH -----------------------------------------------------------------------------------

def test_the_counters_are_read_twice_and_their_difference_recorded(fake_path):
    fake_nvidia_smi(fake_path, "0, 1000000\n1, 5000000\n", "0, 2500000\n1, 8060000\n")
    meter = EnergyMeter({})
    assert calls(fake_path) == 1
    assert meter.stop() == 4560.0 and calls(fake_path) == 2


def test_without_nvidia_smi_there_is_no_energy(fake_path):
    assert read_energy() is None
    assert EnergyMeter({}).stop() is None


def test_a_gpu_that_does_not_report_energy_gives_none(fake_path):
    fake_nvidia_smi(fake_path, "0, [N/A]\n", "0, [N/A]\n")
    assert EnergyMeter({}).stop() is None


def test_a_failing_nvidia_smi_gives_none_and_a_warning(fake_path, caplog):
    fake_nvidia_smi(fake_path, "NVIDIA-SMI has failed because it couldn't communicate with the driver\n",
                    exit_code=6)
    with caplog.at_level(logging.WARNING, logger="regctl.gpu_energy"):
        assert read_energy() is None
    assert "exit 6" in caplog.text


def test_a_gpu_run_records_its_energy_and_a_cpu_run_never_asks(fake_path, tmp_path):
    fake_nvidia_smi(fake_path, "0, 10000\n1, 20000\n", "0, 10000\n1, 2020000\n")
    (tmp_path / "files").mkdir()
    env = {"PATH": "/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": "1"}
    runner = Runner(sandboxed=False)
    cpu = runner.run("true", tmp_path / "cpu", tmp_path / "files", 10, None, env, accelerator="cpu")
    assert cpu.gpu_energy_j is None and calls(fake_path) == 0
    gpu = runner.run("true", tmp_path / "gpu", tmp_path / "files", 10, None, env, accelerator="gpu")
    assert gpu.gpu_energy_j == 2000.0 and calls(fake_path) == 2  # GPU 1 only: GPU 0 was not given


def _spec(accelerator: str) -> dict:
    return {"command": "echo '{{\"acc\": 0.9}}' > {metrics}", "accelerator": accelerator, "timeout_s": 30}


def test_the_report_run_carries_the_energy_only_when_it_was_read(fake_path, tmp_path):
    (tmp_path / "files").mkdir()
    env = {"PATH": "/usr/bin:/bin"}
    runner = Runner(sandboxed=False)
    without = _run_once(runner, _spec("gpu"), tmp_path / "files", tmp_path / "run-a", 0, env)
    assert without["error"] is None and without["metrics"] == {"acc": 0.9}
    assert "gpu_energy_j" not in without  # no nvidia-smi: absent, not made up

    fake_nvidia_smi(fake_path, "0, 5000\n", "0, 4567800\n")
    run = _run_once(runner, _spec("gpu"), tmp_path / "files", tmp_path / "run-b", 0, env)
    assert run["gpu_energy_j"] == 4562.8
    assert RunSchema().load(run)["gpu_energy_j"] == 4562.8
    cpu = _run_once(runner, _spec("cpu"), tmp_path / "files", tmp_path / "run-c", 0, env)
    assert "gpu_energy_j" not in cpu


# -- the report and its text -------------------------------------------------------------------------------------

RUN = {"seed": 0, "exit_code": 0, "timed_out": False, "wall_time_s": 12.3, "stdout_tail": "", "stderr_tail": "",
       "metrics": {"acc": 0.92}, "error": None, "limits": {}}


def test_the_field_is_optional_and_never_negative():
    assert "gpu_energy_j" not in RunSchema().load(RUN)  # an older report: absent, and left absent
    assert RunSchema().load({**RUN, "gpu_energy_j": 4560.0})["gpu_energy_j"] == 4560.0
    with pytest.raises(ValidationError):
        RunSchema().load({**RUN, "gpu_energy_j": -1.0})
    with pytest.raises(ValidationError):
        RunSchema().load({**RUN, "gpu_energy_j": "a lot"})


def test_the_energy_is_shown_beside_the_wall_time():
    assert run_time_text({**RUN, "gpu_energy_j": 4560.0}) == "12.30 s, 4.56 kJ on the GPU"
    assert run_time_text(RUN) == "12.30 s"
    assert (energy_text(512.34), energy_text(4560.0), energy_text(2.5e6)) == ("512.3 J", "4.56 kJ", "2.50 MJ")


def test_regctl_verify_prints_the_energy_beside_the_wall_time(capsys):
    report = {"name": "alice/gpu-model", "version": "1.0.0", "digest": "sha256:" + "a" * 64, "sandbox": "bubblewrap",
              "command": "python eval.py {seed}", "claims": [], "failure": None, "outcome": "reproduced",
              "environment": {"accelerator_requested": "gpu", "accelerator_used": "gpu", "python": "3.12",
                              "cpu": "test"},
              "runs": [{**RUN, "gpu_energy_j": 4560.0}, {**RUN, "seed": 1}]}
    verify_command._print_report(report)
    output = capsys.readouterr().out
    assert "run seed 0: exit 0, 12.30 s, 4.56 kJ on the GPU" in output
    assert "run seed 1: exit 0, 12.30 s\n" in output


CLAIMS = [{"metric": "acc", "value": 0.92, "dataset": "d/test", "tolerance": {"abs": 0.005}}]
GPU_EVALUATION = {"command": "python eval.py {files} {metrics} {seed}", "accelerator": "gpu"}
ENVIRONMENT = {"os": "Linux", "python": "3.12", "cpu": "AMD EPYC 9654", "cpu_count": 8,
               "accelerator_requested": "gpu", "accelerator_used": "gpu", "cuda": "12.4",
               "gpus": [{"name": "NVIDIA H100 80GB HBM3", "driver": "550.54", "memory": "81559 MiB"}]}


def _submit(http, headers, signer, runs: list[dict]):
    """A report signed the way regctl signs it, with these runs, submitted through the API."""
    private, key_id = signer
    version = http.get("/api/v1/artifacts/alice/gpu-model/versions/1.0.0").json
    verdicts = judge(version["manifest"]["claims"], [run["metrics"] for run in runs])
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    report = {"report_version": REPORT_VERSION, "name": "alice/gpu-model", "version": "1.0.0",
              "digest": version["digest"], "verifier": "bob", "nonce": secrets.token_hex(16), "signed_at": now,
              "started_at": now, "finished_at": now, "command": "python eval.py", "sandbox": "bubblewrap",
              "environment": ENVIRONMENT, "runs": runs, "claims": verdicts, "outcome": outcome(verdicts),
              "failure": None, "job": None}
    return http.post("/api/v1/artifacts/alice/gpu-model/versions/1.0.0/verifications", headers=headers, json={
        "report": report, "key_id": key_id,
        "signature": base64.b64encode(private.sign(report_bytes(report))).decode()})


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no database rule is involved
def test_signed_reports_with_and_without_energy_are_accepted_and_shown(http, make_user):
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    assert publish(http, alice, FILES, name="alice/gpu-model", claims=CLAIMS,
                   evaluation=GPU_EVALUATION).status_code == 201
    signer = register_key(http, bob)
    older = _submit(http, bob, signer, [{**RUN, "wall_time_s": 1.0}])  # as regctl signed them before
    assert older.status_code == 201, older.json
    newer = _submit(http, bob, signer, [{**RUN, "gpu_energy_j": 4560.0}])
    assert newer.status_code == 201, newer.json
    (served,) = [v for v in http.get("/api/v1/artifacts/alice/gpu-model/versions/1.0.0/verifications").json
                 if v["id"] == newer.json["id"]]
    assert served["report"]["runs"][0]["gpu_energy_j"] == 4560.0
    refused = _submit(http, bob, signer, [{**RUN, "gpu_energy_j": -3.0}])
    assert refused.status_code == 422 and refused.json["error"]["code"] == "INVALID_REPORT"

    page = html.unescape(http.get("/alice/gpu-model/1.0.0").get_data(as_text=True))
    assert "seed 0: exit 0, 12.30 s, 4.56 kJ on the GPU" in page
    assert "seed 0: exit 0, 1.00 s" in page and "1.00 s, " not in page
