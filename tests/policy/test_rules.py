"""Each repository rule fires on its failing fixture (tests/fixtures/rules/<rule>/), naming the
file and the object, and the whole rule set finds a plaintext Secret or a :latest image added
anywhere in a copy of the repository."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from biogitops.checks import repo_rules
from biogitops.findings import Finding
from biogitops.paths import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "rules"


def _object(finding: Finding) -> str:
    """The `Kind namespace/name` a repository rule's message starts with."""
    return finding.message.split(": ", 1)[0]


@pytest.mark.parametrize("rule", sorted(repo_rules.RULES))
def test_rule_fires_on_its_fixture_naming_file_and_object(rule: str) -> None:
    fixture = FIXTURES / rule
    assert fixture.is_dir(), f"rule {rule} has no failing fixture in {fixture}"
    docs = repo_rules.load_dir(fixture)
    problems = repo_rules.check(docs, [rule])
    assert problems, f"{rule} did not fire on {fixture}"
    for problem in problems:
        assert problem.rule == rule
        assert problem.file.startswith(f"tests/fixtures/rules/{rule}/")
        assert Path(REPO_ROOT / problem.file).is_file()
        ref = _object(problem)
        assert any(d.ref == ref for d in docs), problem
        assert str(problem).startswith(f"{problem.file}: {rule}: {ref}: ")


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("floating-tag", {"Deployment lab-genomics/fastqc", "SparkApplication lab-genomics/spark-pi"}),
        ("app-project", {"Application argocd/lab-genomics-escape", "Application argocd/orphan"}),
        ("namespace-netpol", {"Namespace lab-genomics"}),  # the staging NetworkPolicy does not cover dev
        ("memory-resources", {"CronJob lab-genomics/cleanup"}),
    ],
)
def test_rule_finds_every_bad_object(rule: str, expected: set[str]) -> None:
    problems = repo_rules.check(repo_rules.load_dir(FIXTURES / rule), [rule])
    assert {_object(p) for p in problems} == expected


@pytest.mark.parametrize(
    ("image", "tag", "canonical"),
    [
        ("ubuntu", "", "docker.io/library/ubuntu"),
        ("nextflow/nextflow:25.10.4", "25.10.4", "docker.io/nextflow/nextflow:25.10.4"),
        ("localhost:5000/x", "", "localhost:5000/x"),
        ("quay.io/biocontainers/samtools:1.21--h50ea8bc_0@sha256:ab", "1.21--h50ea8bc_0", None),
        ("registry.example:443/a/b@sha256:ab", "", None),
    ],
)
def test_image_reference_parsing(image: str, tag: str, canonical: str | None) -> None:
    assert repo_rules.image_tag(image) == tag
    if canonical:
        assert repo_rules.canonical(image) == canonical


def _copy_repo(tmp_path: Path) -> Path:
    """A git checkout of this working tree (committed files plus the change under test)."""
    copy = tmp_path / "repo"
    files = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "ls-files", "-co", "--exclude-standard"], capture_output=True, text=True
    ).stdout.split()
    for rel in files:
        src = REPO_ROOT / rel
        if src.is_file():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, copy / rel)
    subprocess.run(["git", "init", "-q", str(copy)], check=True)
    subprocess.run(["git", "-C", str(copy), "add", "-A"], check=True)
    return copy


def test_plaintext_secret_added_anywhere_is_found(tmp_path: Path) -> None:
    repo = _copy_repo(tmp_path)
    assert repo_rules.repository_secrets(repo) == []
    target = repo / "observability" / "grafana-admin.yaml"
    shutil.copy(FIXTURES / "plaintext-secret" / "dev" / "secret.yaml", target)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    problems = repo_rules.repository_secrets(repo)
    assert [(p.rule, p.file, _object(p)) for p in problems] == [
        ("plaintext-secret", "observability/grafana-admin.yaml", "Secret lab-genomics/galaxy-db")
    ]


def test_latest_image_in_rendered_output_fails_the_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    shutil.copytree(FIXTURES / "floating-tag", out)
    assert repo_rules.main(["--dir", str(out), "--rule", "floating-tag"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(": floating-tag: Deployment lab-genomics/fastqc: " in line for line in out), out
    assert out[-1].startswith("repository rules: ") and "rules: floating-tag" in out[-1]


# Each file under tests/fixtures/rules/breaks/ is one way around the rules that rendering offline
# used to miss. Line 1 names the rule (`# breaks RULE: what`), line 2 where it goes in a copy of
# the repository (`# target: PATH (merge|write)`): merged into a values file, or written as a file.
BREAKS = sorted((FIXTURES / "breaks").rglob("*.yaml"))  # templates/: Helm text, kept from yamllint


def _merge(base: object, extra: object) -> object:
    if isinstance(base, dict) and isinstance(extra, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in extra.items()}}
    return extra


def _apply_break(repo: Path, fixture: Path) -> tuple[str, str]:
    lines = fixture.read_text().splitlines()
    rule = lines[0].removeprefix("# breaks ").split(":")[0]
    target, how = lines[1].removeprefix("# target: ").split()
    path = repo / target
    if how == "(merge)":
        import yaml

        merged = _merge(yaml.safe_load(path.read_text()) or {}, yaml.safe_load(fixture.read_text()))
        path.write_text(yaml.safe_dump(merged, sort_keys=False))
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fixture.read_text())
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    return rule, target


@pytest.fixture(scope="module")
def clean_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy_repo(tmp_path_factory.mktemp("clean"))


def test_the_source_rules_find_nothing_in_the_repository(clean_repo: Path) -> None:
    assert repo_rules.source_findings(clean_repo) == []


@pytest.mark.parametrize("fixture", BREAKS, ids=[p.stem for p in BREAKS])
def test_a_break_that_rendering_offline_misses_is_found(fixture: Path, clean_repo: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(clean_repo, repo, symlinks=True)
    rule, target = _apply_break(repo, fixture)
    problems = [p for p in repo_rules.source_findings(repo) if p.rule == rule]
    assert any(p.file == target for p in problems), [str(p) for p in problems] or f"{rule} did not fire on {target}"


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("quay.io/x/y:1.0", ""),
        ("quay.io/x/y:1.0@sha256:" + "a" * 64, ""),
        ("quay.io/x/y", "has no tag"),
        ("quay.io/x/y:latest", "floating tag :latest"),
        ("quay.io/x/y:1.0@sha256" + "a" * 64, "malformed digest"),
        ("quay.io/x/y@sha256:abc", "malformed digest"),
    ],
    ids=["tag", "tag-and-digest", "no-tag", "latest", "digest-without-colon", "short-digest"],
)
def test_image_problems(image: str, problem: str) -> None:
    found = repo_rules.image_problem(image)
    assert (problem in found) if problem else found == ""
