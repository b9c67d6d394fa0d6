"""Lab files: each invalid fixture fails with the message in its `# expect:` line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from biogitops.config.labs import check_apps, load_labs, load_labs_at, parse_lab, scaffold
from biogitops.config.settings import load_settings
from biogitops.errors import ConfigError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "labs"
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))


def _expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path} needs an `# expect:` first line"
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_lab_is_refused_naming_file_and_field(path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        parse_lab(path)
    assert str(err.value).startswith(f"{path}: ")
    assert _expected(path) in str(err.value)


def test_valid_fixture_and_shipped_labs_parse() -> None:
    assert parse_lab(FIXTURES / "valid" / "genomics.yaml").namespace == "lab-genomics"
    assert {lab.name for lab in load_labs("dev")} == {"genomics", "proteomics"}


def test_a_second_file_claiming_a_labs_name_is_refused(tmp_path: Path) -> None:
    labs = tmp_path / "dev" / "labs"
    labs.mkdir(parents=True)
    shutil.copy(FIXTURES / "valid" / "genomics.yaml", labs / "genomics.yaml")
    (labs / "zz-genomics.yaml").write_text((FIXTURES / "valid" / "genomics.yaml").read_text())
    with pytest.raises(ConfigError, match="name: is 'genomics' but the file is zz-genomics.yaml"):
        load_labs("dev", root=tmp_path)


def test_scaffold_writes_a_valid_lab_and_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "settings.yaml").write_text("environment: dev\n")
    path = scaffold("metagenomics", "dev", root=tmp_path)
    assert parse_lab(path).name == "metagenomics"
    with pytest.raises(ConfigError, match="already exists"):
        scaffold("metagenomics", "dev", root=tmp_path)


@pytest.mark.parametrize("name", ["Bad_Name", "argocd", "x"], ids=["not-dns", "reserved", "too-short"])
def test_scaffold_refuses_bad_names_and_leaves_nothing(tmp_path: Path, name: str) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "settings.yaml").write_text("environment: dev\n")
    with pytest.raises(ConfigError):
        scaffold(name, "dev", root=tmp_path)
    assert list((tmp_path / "dev" / "labs").glob("*")) == []


def test_lab_enabling_an_app_its_environment_does_not_offer_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    settings = yaml.safe_load((Path(__file__).parents[2] / "clusters/dev/settings.yaml").read_text())
    settings["apps"]["galaxy"]["enabled"] = False
    (tmp_path / "dev" / "settings.yaml").write_text(yaml.safe_dump(settings))
    labs = load_labs("dev")  # proteomics enables galaxy
    with pytest.raises(ConfigError) as err:
        check_apps(labs, load_settings("dev", root=tmp_path))
    assert str(err.value).startswith(f"{labs_path('proteomics')}: apps.galaxy: not offered in dev")


def labs_path(name: str) -> Path:
    return Path(__file__).parents[2] / "clusters" / "dev" / "labs" / f"{name}.yaml"


def test_nested_lab_file_is_refused_because_argo_cd_would_not_read_it(tmp_path: Path) -> None:
    labs = tmp_path / "dev" / "labs"
    (labs / "archive").mkdir(parents=True)
    shutil.copy(FIXTURES / "valid" / "genomics.yaml", labs / "genomics.yaml")
    shutil.copy(FIXTURES / "valid" / "genomics.yaml", labs / "archive" / "genomics.yaml")
    with pytest.raises(ConfigError) as err:
        load_labs("dev", root=tmp_path)
    assert str(err.value).startswith(f"{labs / 'archive' / 'genomics.yaml'}: lab files must sit directly in")


def _git(repo: Path, *args: str) -> None:
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", *ident, "-C", str(repo), *args], check=True, capture_output=True)


def test_staging_labs_are_read_from_the_pinned_revision_not_the_working_tree(tmp_path: Path) -> None:
    labs = tmp_path / "clusters" / "staging" / "labs"
    labs.mkdir(parents=True)
    _git(tmp_path, "init", "-q", "-b", "main")
    shutil.copy(FIXTURES / "valid" / "genomics.yaml", labs / "genomics.yaml")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "v1")
    _git(tmp_path, "tag", "v1")
    bad = (FIXTURES / "invalid" / "memory-millibytes.yaml").read_text()
    (labs / "memory-millibytes.yaml").write_text(bad)  # in the working tree only
    assert [lab.name for lab in load_labs_at("staging", "v1", tmp_path)] == ["genomics"]
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "v2")
    with pytest.raises(ConfigError) as err:
        load_labs_at("staging", "HEAD", tmp_path)
    assert str(err.value).startswith("HEAD:clusters/staging/labs/memory-millibytes.yaml: quota.memory:")


def test_a_revision_missing_from_the_clone_is_named(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "commit", "-q", "--allow-empty", "-m", "empty")
    with pytest.raises(ConfigError, match="repo.revision: 'v9.9.9' is not in the local clone"):
        load_labs_at("staging", "v9.9.9", tmp_path)


# A lab file must read the same to PyYAML (preflight, reviewers' tools) and to Argo CD's Go YAML:
# every construct the two resolve differently is refused before the schema is read.
YAML_REFUSED = sorted((FIXTURES / "yaml").glob("*.yaml"))


@pytest.mark.parametrize("path", YAML_REFUSED, ids=[p.stem for p in YAML_REFUSED])
def test_lab_file_that_parsers_may_read_differently_is_refused_naming_line_and_rule(path: Path) -> None:
    rule, _, line = _expected(path).partition(" line ")
    with pytest.raises(ConfigError) as err:
        parse_lab(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert f"(rule {rule})" in message
    assert "\n" not in message
