"""What regctl prints, from the registry's answers (no registry: the answer is given)."""

import json

import pytest
from click.testing import CliRunner

from regctl import cli, commands

PUBLIC = "https://registry.example.org"
DOCUMENT = {
    "name": "alice/resnet", "version": "1.0.0", "digest": "sha256:" + "a" * 64, "visibility": "public",
    "yanked": False, "yank_reason": None, "published_at": "2026-05-01T12:00:00Z", "published_by": "alice",
    "url": f"{PUBLIC}/alice/resnet/1.0.0", "checklist_warnings": [],
    "manifest": {"title": "ResNet", "license": "apache-2.0",
                 "files": [{"path": "weights.safetensors", "size": 3 * 1024**2, "sha256": "sha256:" + "b" * 64}],
                 "claims": [{"metric": "top1", "dataset": "cifar10/test", "value": 0.95, "tolerance": {"rel": 0.02}},
                            {"metric": "loss", "dataset": "cifar10/test", "value": 0.2, "tolerance": {"max": 0.25},
                             "std": 0.01, "n_runs": 3}]},
}


@pytest.fixture
def regctl(monkeypatch, tmp_path):
    """regctl configured with an internal address; the registry's answer names its public one."""
    monkeypatch.setattr(commands, "verified_version", lambda api, ref: json.loads(json.dumps(DOCUMENT)))
    env = {"REGCTL_URL": "http://10.0.0.7:8080", "REGCTL_TOKEN": "", "XDG_CONFIG_HOME": str(tmp_path)}

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli.main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return run


def test_badge_snippets_use_the_address_the_registry_answers_with(regctl):
    markdown, html = regctl("badge", "alice/resnet@1.0.0").splitlines()
    image = f"{PUBLIC}/badges/alice/resnet/1.0.0.svg"
    assert markdown == f"[![reproducibility of alice/resnet 1.0.0]({image})]({PUBLIC}/alice/resnet/1.0.0)"
    assert html == f'<a href="{PUBLIC}/alice/resnet/1.0.0"><img src="{image}" alt="reproducibility of alice/resnet ' \
                   '1.0.0"></a>'
    snippets = json.loads(regctl("badge", "alice/resnet@1.0.0", "--kind", "checklist", "--json"))
    assert snippets["image"] == f"{image}?kind=checklist"
    assert snippets["shields_endpoint"] == f"{PUBLIC}/badges/alice/resnet/1.0.0.json?kind=checklist"


def test_show_prints_sizes_and_tolerances_as_the_pages_do(regctl):
    output = regctl("show", "alice/resnet@1.0.0")
    assert "3.0 MiB" in output
    assert "± 2 %" in output and "≤ 0.25 · std 0.01 over 3 runs" in output
