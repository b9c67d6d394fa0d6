"""Guards of the platform itself: Gatekeeper fails closed except where that would lock the cluster
out, the image allow-list names no registry that builds images on request, staging and prod follow
a commit SHA (not a tag someone can move), and changes to Argo CD's configuration and the cluster
base need their owners' review.

    python -m pytest tests/render/test_platform_guards.py -q
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from biogitops.config.pins import load_pins
from biogitops.config.settings import load_settings, promote
from biogitops.errors import ConfigError
from biogitops.paths import REPO_ROOT
from biogitops.render import targets

# what Gatekeeper's webhook must never stand between: the control plane, Gatekeeper's own repair,
# and Argo CD, which syncs Gatekeeper back
PLATFORM_NAMESPACES = {"kube-system", "kube-public", "kube-node-lease", "gatekeeper-system", "argocd"}


def _webhooks(env: str) -> dict[str, dict]:
    chart = targets.module_chart("gatekeeper", load_pins())
    objs = targets.render_upstream("gatekeeper", env, [str(chart)])
    [vwh] = [o for o in objs if o["kind"] == "ValidatingWebhookConfiguration"]
    return {w["name"]: w for w in vwh["webhooks"]}


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_gatekeeper_fails_closed_outside_the_platform_namespaces(env: str) -> None:
    hook = _webhooks(env)["validation.gatekeeper.sh"]
    assert hook["failurePolicy"] == "Fail", "a Gatekeeper that is down must not admit what it would refuse"
    exempt: set[str] = set()
    for expr in hook["namespaceSelector"]["matchExpressions"]:
        if expr["key"] == "kubernetes.io/metadata.name" and expr["operator"] == "NotIn":
            exempt |= set(expr["values"])
    assert exempt == PLATFORM_NAMESPACES, "exempt exactly what repairs the cluster, no lab namespace"


def test_image_allow_list_admits_no_image_built_on_request() -> None:
    constraint = yaml.safe_load((REPO_ROOT / "policies/image-signing/samples/constraint.yaml").read_text())
    registries = constraint["spec"]["parameters"]["registries"]
    built_on_request = "wave.seqera.io/wt/3f2a9c1b/library/samtools:1.21"
    assert not [r for r in registries if built_on_request.startswith(r)], "Seqera Wave builds any image it is asked for"
    assert any("community.wave.seqera.io/library/fastqc:0.12.1".startswith(r) for r in registries)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_follow_a_commit_sha(env: str) -> None:
    revision = load_settings(env).repo_revision
    assert re.fullmatch(r"[0-9a-f]{40}", revision), f"{env}: {revision!r} is a name someone can move"


def test_a_movable_revision_in_staging_is_refused_naming_the_rule(tmp_path: Path) -> None:
    env = tmp_path / "staging"
    env.mkdir()
    text = (REPO_ROOT / "clusters/staging/settings.yaml").read_text()
    (env / "settings.yaml").write_text(re.sub(r"revision: \S+", "revision: v0.1.0", text, count=1))
    with pytest.raises(ConfigError, match=r"repo.revision: 'v0.1.0' .*\(rule immutable-revision\)"):
        load_settings("staging", root=tmp_path)


def test_promote_writes_the_sha_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    env = tmp_path / "staging"
    env.mkdir()
    original = (REPO_ROOT / "clusters/staging/settings.yaml").read_text()
    (env / "settings.yaml").write_text(original)
    git = ["git", "-C", str(REPO_ROOT)]
    head = subprocess.run([*git, "rev-parse", "HEAD~1"], capture_output=True, text=True).stdout.strip()
    promote("staging", head, root=tmp_path)
    assert load_settings("staging", root=tmp_path).repo_revision == head
    # only the revision line changed: comments and the rest of the file stay
    written = (env / "settings.yaml").read_text().splitlines()
    changed = [a for a, b in zip(original.splitlines(), written, strict=True) if a != b]
    assert len(changed) == 1 and "revision:" in changed[0]
    with pytest.raises(ConfigError, match="not a commit of this repository"):
        promote("staging", "0" * 40, root=tmp_path)
    with pytest.raises(ConfigError, match="a full commit SHA"):
        promote("staging", "main", root=tmp_path)


def test_codeowners_cover_argo_cds_configuration_and_the_cluster_base() -> None:
    path = REPO_ROOT / ".github" / "CODEOWNERS"
    assert path.is_file(), "changes to clusters/argocd/ and clusters/base/ need their owners' review"
    rules = [ln.split() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    owned = {r[0]: r[1:] for r in rules}
    for folder in ("/clusters/argocd/", "/clusters/base/"):
        assert owned.get(folder), f"CODEOWNERS names no owner for {folder}"


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_no_sync_through_argo_cds_api_may_replace(env: str) -> None:
    """`argocd app sync --replace --force` deletes and re-creates what it syncs (kubectl replace
    --force), `Prune=false,Delete=false` notwithstanding: a lab's claims, Galaxy's database. Argo CD
    3.5.3's API server refuses a sync with Replace=true when server.sync.replace.allowed is false
    (server/application/application.go, Sync); what git itself marks Replace=true is reviewed."""
    from biogitops.render.manifests import argocd_config

    [params] = [o for o in argocd_config(load_settings(env)) if o["metadata"]["name"] == "argocd-cmd-params-cm"]
    assert params["data"]["server.sync.replace.allowed"] == "false"
