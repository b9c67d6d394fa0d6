"""Environment settings: the shipped ones are valid; broken ones fail naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from biogitops.config.settings import known_envs, load_settings
from biogitops.errors import ConfigError

BASE = yaml.safe_load((Path(__file__).parents[2] / "clusters/dev/settings.yaml").read_text())


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_shipped_environment_is_valid(env: str) -> None:
    settings = load_settings(env)
    assert settings.env == env
    assert {g.name for g in settings.node_groups} == {"general", "spot", "gpu"}


def test_staging_and_prod_use_a_pinned_remote_revision() -> None:
    for env in ("staging", "prod"):
        settings = load_settings(env)
        assert settings.repo_url.startswith("https://")
        assert settings.repo_revision not in ("HEAD", "main", "master")


def _write(tmp_path: Path, env: str, data: dict) -> Path:
    (tmp_path / env).mkdir(parents=True)
    path = tmp_path / env / "settings.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _with(**changes) -> dict:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    for dotted, value in changes.items():
        node = data
        keys = dotted.split("__")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return data


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param(_with(provider="minikube"), "provider", id="unknown-provider"),
        pytest.param(_with(repo__url="ftp://x"), "repo.url", id="repo-url-not-git"),
        pytest.param(_with(nodeGroups__general__count="two"), "nodeGroups.general.count", id="count-not-int"),
        pytest.param(
            _with(nodeGroups__gpu__capacity={"cpu": "8", "memory": "lots", "pods": "110"}),
            "nodeGroups.gpu.capacity.memory",
            id="capacity-not-quantity",
        ),
        pytest.param(
            _with(nodeGroups__spot__taints=[{"key": "x", "effect": "Sometimes"}]),
            "nodeGroups.spot.taints[0].effect",
            id="bad-taint-effect",
        ),
        pytest.param(
            _with(addons__gatekeeper={"enabled": True, "enforcement": "maybe"}),
            "addons.gatekeeper.enforcement",
            id="bad-enforcement",
        ),
        pytest.param(_with(colour="blue"), "<top>", id="unknown-key"),
        pytest.param(_with(apps__jupyter={"enabled": True}), "apps", id="unknown-app"),
        pytest.param(_with(apps__galaxy={"enabled": "yes"}), "apps.galaxy.enabled", id="app-enabled-not-bool"),
        pytest.param(
            _with(addons__galaxyDeps={"enabled": False}),
            "apps.galaxy: needs addons.galaxyDeps",
            id="galaxy-without-deps",
        ),
        pytest.param(
            _with(addons__sparkOperator={"enabled": False}),
            "apps.spark: needs addons.sparkOperator",
            id="spark-without-operator",
        ),
        pytest.param(
            _with(repo__url="https://ci:s3cret@git.example.org/bio-gitops.git"),
            "repo.url: embeds credentials",
            id="repo-url-with-credentials",
        ),
        pytest.param(
            _with(repo__url="https://ghp_token@git.example.org/bio-gitops.git"),
            "repo.url: embeds credentials",
            id="repo-url-with-token",
        ),
        pytest.param(
            _with(repo__url="ssh://git:pw@git.example.org/bio-gitops.git"),
            "repo.url: embeds credentials",
            id="ssh-url-with-password",
        ),
        pytest.param(_with(sso={"issuer": "http://login.example.org"}), "sso", id="sso-incomplete-or-plain-http"),
    ],
)
def test_invalid_settings_name_file_and_field(tmp_path: Path, data: dict, field: str) -> None:
    path = _write(tmp_path, "dev", data)
    with pytest.raises(ConfigError) as err:
        load_settings("dev", root=tmp_path)
    assert str(err.value).startswith(f"{path}: {field}")


def test_unknown_environment_lists_known_ones(tmp_path: Path) -> None:
    _write(tmp_path, "dev", BASE)
    with pytest.raises(ConfigError, match=r"unknown environment 'qa'.*known environments: dev"):
        load_settings("qa", root=tmp_path)
    assert known_envs(tmp_path) == ["dev"]


def test_folder_and_environment_name_must_agree(tmp_path: Path) -> None:
    _write(tmp_path, "test", BASE)
    with pytest.raises(ConfigError, match="environment: is 'dev' but the folder is 'test'"):
        load_settings("test", root=tmp_path)


def test_existing_provider_needs_a_context(tmp_path: Path) -> None:
    _write(tmp_path, "dev", _with(provider="existing"))
    with pytest.raises(ConfigError, match="existing.context: required"):
        load_settings("dev", root=tmp_path)


def test_offered_app_without_values_for_the_environment_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "qa", _with(environment="qa"))
    with pytest.raises(ConfigError) as err:
        load_settings("qa", root=tmp_path)
    assert str(err.value).startswith(f"{path}: apps.nextflow: applications/nextflow/values.qa.yaml does not exist")


def test_offered_apps_follow_the_settings(tmp_path: Path) -> None:
    _write(tmp_path, "dev", _with(apps__galaxy={"enabled": False}))
    assert load_settings("dev", root=tmp_path).apps == ["nextflow", "spark"]


def test_addon_accessors_read_the_addons_block(tmp_path: Path) -> None:
    data = _with()
    data["addons"] = {"gatekeeper": {"enabled": True, "enforcement": "warn"}, "monitoring": {"enabled": False}}
    data["apps"] = {"nextflow": {"enabled": True}}
    _write(tmp_path, "dev", data)
    settings = load_settings("dev", root=tmp_path)
    assert settings.addon_enabled("gatekeeper")
    assert settings.addon("gatekeeper")["enforcement"] == "warn"
    assert not settings.addon_enabled("monitoring")
    assert not settings.addon_enabled("sealedSecrets")  # left out of the file: disabled
    assert settings.addon("sealedSecrets") == {}
    assert settings.addons == {"gatekeeper": True, "monitoring": False}


def test_an_unknown_addon_name_is_refused_not_read_as_disabled() -> None:
    with pytest.raises(ValueError, match=r"unknown add-on 'gatkeeper'.*gatekeeper"):
        load_settings("dev").addon_enabled("gatkeeper")
