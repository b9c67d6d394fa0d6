"""Target: one environment's settings, provider and kubectl, resolved once for a task.

python -m pytest tests/unit/test_target.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest
from invoke import Context
from invoke.exceptions import Exit

from biogitops.cluster.kwok.provider import KwokProvider
from biogitops.config import settings as settings_module
from biogitops.errors import ConfigError
from tests.unit.fake_kubectl import FakeKubectl


@pytest.fixture
def settings_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every clusters/<env>/settings.yaml read from now on."""
    reads: list[Path] = []
    real = settings_module.load_yaml

    def counting(path: Path):
        reads.append(path)
        return real(path)

    monkeypatch.setattr(settings_module, "load_yaml", counting)
    return reads


def test_a_target_resolves_settings_once(
    cache: Path, settings_reads: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from biogitops.cluster.target import Target

    monkeypatch.setattr(KwokProvider, "kubectl", lambda self: FakeKubectl([]))
    target = Target("dev", "kwok")
    assert isinstance(target.provider, KwokProvider)
    assert target.settings is target.provider.settings
    assert (target.env, target.provider.reason) == ("dev", "--provider kwok")
    target.kubectl, target.settings, target.provider  # noqa: B018 - reading them resolves nothing again
    assert len(settings_reads) == 1
    assert target.kubectl is target.kubectl


def test_a_target_moves_aside_like_a_provider(cache: Path) -> None:
    from biogitops.cluster.target import Target

    bench = Target("dev", "kwok", instance="bench", port_offset=100)
    assert bench.provider.cluster_name == "bio-gitops-dev-bench"
    assert bench.provider.base_port == bench.settings.kwok_base_port + 100


def test_a_target_wraps_a_provider_already_made(cache: Path) -> None:
    from biogitops.cluster.target import Target

    made = Target("dev", "kwok").provider
    assert Target.of(made).provider is made


@pytest.mark.parametrize(
    ("env", "provider", "error"),
    [
        ("nosuchenv", None, r"^unknown environment 'nosuchenv' \(known environments: dev, prod, staging"),
        ("dev", "docker-desktop", r"^unknown provider 'docker-desktop' \(choose one of: auto, kind, kwok, existing\)$"),
    ],
)
def test_an_unknown_env_or_provider_is_one_line_naming_the_fix(env: str, provider: str | None, error: str) -> None:
    from biogitops.cluster.target import Target

    with pytest.raises(ConfigError, match=error) as raised:
        Target(env, provider)
    assert "\n" not in str(raised.value)


def test_invoke_status_reads_settings_once(
    cache: Path, settings_reads: list[Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """`invoke status` follows ENV to one Target (it used to read settings.yaml per question)."""
    from biogitops.tasks import platform as platform_tasks

    kubectl = FakeKubectl([])
    monkeypatch.setattr(KwokProvider, "kubectl", lambda self: kubectl)
    platform_tasks.status(Context(), env="dev", provider="kwok")
    assert "bio-gitops dev" in capsys.readouterr().out
    assert len(settings_reads) == 1


def test_invoke_status_with_an_unknown_env_exits_with_the_fix() -> None:
    from biogitops.tasks import platform as platform_tasks

    with pytest.raises(Exit, match=r"^error: unknown environment 'nosuchenv' \(known environments: "):
        platform_tasks.status(Context(), env="nosuchenv")
