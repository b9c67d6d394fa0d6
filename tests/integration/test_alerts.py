"""Alerts that fire for real (kwok): the pinned Prometheus, running as a local process, scrapes
the kube-apiserver, etcd and every controller beside kwok (Argo CD, Gatekeeper, the Sealed
Secrets controller, dev's Keycloak), evaluates this repository's rules, and fires when something is broken on
purpose (a failing sync, a dead webhook, a stopped controller, a SealedSecret that cannot
open); the observability Application syncs the PrometheusRules,
monitors and dashboards.

    flock /tmp/bio-gitops-kwok.lock nox -s integration -- --provider kwok -k alerts

Test-only change to the rules, stated here: each alert's `for:` is shortened to FOR (the
expression, labels and annotations are the committed ones), and Prometheus scrapes and evaluates
every 5s, so that a test holds the shared kwok cluster for a minute or two rather than for the
production durations. test_committed_durations_are_unchanged checks the committed values.
kube-state-metrics and the kubelet do not run on kwok: their alerts are proven by `nox -s rules`.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from biogitops.cluster import Provider
from biogitops.cluster.kwok import gatekeeper, prometheus
from biogitops.cluster.kwok.sealedsecrets import LocalSealedSecrets
from biogitops.cluster.target import Target
from biogitops.paths import REPO_ROOT
from biogitops.platform import bootstrap as bs
from biogitops.toolchain import tools

from .conftest import Cluster, git_repo_from

FOR = "20s"
PROBE = "alert-probe"


def shortened(specs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The committed rule groups with every alert's `for:` set to FOR (test only)."""
    for spec in specs.values():
        for group in spec["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rule["for"] = FOR
    return specs


def wait_for(what: str, check, timeout: float = 180, every: float = 3) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture(scope="module")
def prom(cluster: Cluster, provider: Provider) -> Iterator[prometheus.LocalPrometheus]:
    if provider.name != "kwok":
        pytest.skip(
            "kind: kube-prometheus-stack's chart is unreachable here, so no Prometheus runs on kind; the alert "
            "tests run on kwok, where Prometheus runs as a local process"
        )
    local = prometheus.local(provider, scrape_interval="5s", evaluation_interval="5s")
    local.start(print, rules=shortened(prometheus.rule_specs()))
    yield local
    local.stop()


def test_committed_durations_are_unchanged() -> None:
    alerts = {
        r["alert"]: r.get("for")
        for spec in prometheus.rule_specs().values()
        for g in spec["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    assert alerts["ArgoCDAppSyncFailing"] == "5m"
    assert alerts["AdmissionWebhookFailing"] == "5m"


def test_prometheus_scrapes_the_control_plane_and_every_controller(
    provider: Provider, prom: prometheus.LocalPrometheus, platform: bs.Result
) -> None:
    # after bootstrap: the controller reports argocd_app_info only once Applications exist
    expected = {"apiserver", "etcd", *prometheus.ARGOCD_JOBS, *prometheus.CONTROLLER_JOBS}
    if provider.identity():  # dev's Keycloak, over TLS with the cluster's dev CA
        expected.add(prometheus.KEYCLOAK_JOB)

    def all_up() -> dict[str, str] | None:
        targets = prom.targets()
        return targets if set(targets) == expected and set(targets.values()) == {"up"} else None

    health = wait_for("every target up", all_up, 60)
    assert health == dict.fromkeys(expected, "up")
    # the metrics the kwok-provable alerts read are there
    for metric in ("apiserver_request_total", "etcd_server_has_leader", "argocd_app_info"):
        assert prom.query(f"count({metric})"), metric
    # Gatekeeper reports gatekeeper_violations after its first audit run (every 10 s in these tests)
    wait_for("gatekeeper_violations from the audit", lambda: prom.query("count(gatekeeper_violations)"), 90)


def test_every_committed_rule_group_is_loaded(prom: prometheus.LocalPrometheus) -> None:
    loaded = {g["name"] for g in prom.api("rules")["groups"]}
    committed = {g["name"] for spec in prometheus.rule_specs().values() for g in spec["groups"]}
    assert loaded == committed


def _git(work: Path, *args: str) -> None:
    git = ["git", "-c", "user.name=bio-gitops", "-c", "user.email=ci@bio-gitops.invalid", "-C", str(work)]
    subprocess.run([*git, *args], check=True, capture_output=True)


def _configmap(name: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "b"}})


@pytest.fixture
def broken_app(cluster: Cluster, tmp_path: Path) -> Iterator[Path]:
    """An Application whose only object the API server refuses (an invalid name); yields the
    work tree of its git repository, whose commits a test pushes to fix it."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "configmap.yaml").write_text(_configmap("Not_A_Valid_Name"))
    url = git_repo_from(source, tmp_path / "repo.git")
    project = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": PROBE, "namespace": "argocd"},
        "spec": {
            "sourceRepos": [url],
            "destinations": [{"server": "https://kubernetes.default.svc", "namespace": PROBE}],
            "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
        },
    }
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": PROBE, "namespace": "argocd"},
        "spec": {
            "project": PROBE,
            "source": {"repoURL": url, "targetRevision": "main", "path": "."},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": PROBE},
            # Argo CD retries a failed automated sync (5 times by default) before it records the
            # SyncError condition; one quick retry keeps the test short
            "syncPolicy": {
                "automated": {"prune": True},
                "syncOptions": ["CreateNamespace=true"],
                "retry": {"limit": 1, "backoff": {"duration": "5s", "factor": 1, "maxDuration": "5s"}},
            },
        },
    }
    cluster.kubectl.apply_text(yaml.safe_dump_all([project, app]))
    yield (tmp_path / "repo.work")
    cluster.kubectl.run("-n", "argocd", "delete", "application", PROBE, "--ignore-not-found", "--wait=false")
    cluster.kubectl.run("-n", "argocd", "delete", "appproject", PROBE, "--ignore-not-found")
    cluster.kubectl.run("delete", "namespace", PROBE, "--ignore-not-found", "--wait=false")


def test_a_failing_sync_fires_the_sync_alert_and_fixing_it_resolves_it(
    cluster: Cluster, prom: prometheus.LocalPrometheus, broken_app: Path
) -> None:
    alerts = wait_for(
        "ArgoCDAppSyncFailing to fire",
        lambda: [a for a in prom.firing("ArgoCDAppSyncFailing") if a["labels"].get("name") == PROBE],
    )
    assert alerts[0]["labels"]["severity"] == "critical"
    assert alerts[0]["annotations"]["runbook_url"].endswith("runbooks/alerts/ArgoCDAppSyncFailing.md")
    condition = cluster.application(PROBE)["status"]["conditions"]
    assert any(c["type"] == "SyncError" for c in condition)

    # the fix: a valid object, pushed to the branch the Application tracks
    (broken_app / "configmap.yaml").write_text(_configmap("a-valid-name"))
    _git(broken_app, "commit", "-qam", "fix the object name")
    _git(broken_app, "push", "-q", str(broken_app.with_suffix(".git")), "main")
    cluster.kubectl.run(
        "-n", "argocd", "annotate", "--overwrite", "application", PROBE, "argocd.argoproj.io/refresh=normal"
    )
    wait_for(
        "ArgoCDAppSyncFailing to resolve",
        lambda: (
            not [
                a
                for a in prom.alerts()
                if a["labels"].get("alertname") == "ArgoCDAppSyncFailing" and a["labels"].get("name") == PROBE
            ]
        ),
    )
    wait_for(
        "the fixed Application to be Synced and Healthy", lambda: bs.app_state(cluster.application(PROBE)) == bs.HEALTHY
    )


@pytest.fixture
def dead_webhook(cluster: Cluster, provider: Provider) -> Iterator[str]:
    """A validating webhook on a loopback port where nothing listens, scoped to one namespace
    (failurePolicy Fail): creating a ConfigMap there fails, nothing else is affected."""
    namespace, name = "webhook-probe", "alert-probe.bio-gitops.invalid"
    cluster.kubectl.run("create", "namespace", namespace)
    config = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": name,
                # base port + 9: a free offset of the kwok plan (no process listens there)
                "clientConfig": {"url": f"https://127.0.0.1:{provider.base_port + 9}/validate"},
                "rules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["configmaps"]}
                ],
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 2,
            }
        ],
    }
    cluster.kubectl.apply_text(yaml.safe_dump(config))
    yield namespace
    cluster.kubectl.run("delete", "validatingwebhookconfiguration", name, "--ignore-not-found")
    cluster.kubectl.run("delete", "namespace", namespace, "--ignore-not-found", "--wait=false")


def test_an_unreachable_admission_webhook_fires_its_alert(
    cluster: Cluster, prom: prometheus.LocalPrometheus, dead_webhook: str
) -> None:
    refusals: list[str] = []

    def refused_then_firing() -> list[dict]:
        # the API server picks the new webhook up within a second or two: count the refusals
        argv = cluster.kubectl.argv("-n", dead_webhook, "create", "configmap", f"probe-{time.monotonic_ns()}")
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0 and "failed calling webhook" in proc.stderr:
            refusals.append(proc.stderr)
        alerts = prom.firing("AdmissionWebhookFailing")
        return [a for a in alerts if a["labels"].get("name") == "alert-probe.bio-gitops.invalid"]

    alerts = wait_for("AdmissionWebhookFailing to fire", refused_then_firing)
    assert refusals, "no request was refused by the unreachable webhook"
    assert alerts[0]["labels"]["operation"] == "CREATE"


@pytest.fixture(scope="module")
def platform(cluster: Cluster, provider: Provider) -> bs.Result:
    return bs.Bootstrap(Target.of(provider), print).run()


def test_observability_application_syncs_rules_monitors_and_dashboards(cluster: Cluster, platform: bs.Result) -> None:
    assert bs.app_state(cluster.application("observability")) == bs.HEALTHY
    rendered = yaml.safe_load_all(
        subprocess.run(
            [str(tools.which("kustomize")), "build", str(REPO_ROOT / "observability")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    expected = {(o["kind"], o["metadata"]["name"]) for o in rendered if o}
    live = set()
    for kind, resource in (
        ("PrometheusRule", "prometheusrules.monitoring.coreos.com"),
        ("ServiceMonitor", "servicemonitors.monitoring.coreos.com"),
        ("PodMonitor", "podmonitors.monitoring.coreos.com"),
        ("ConfigMap", "configmaps"),
    ):
        items = cluster.kubectl.json("-n", "monitoring", "get", resource, "-l", "bio-gitops.io/monitoring=true")[
            "items"
        ]
        live |= {(kind, i["metadata"]["name"]) for i in items}
    assert expected == live
    assert len([k for k, _ in expected if k == "PrometheusRule"]) == len(prometheus.rule_specs())


def _no_alert(prom: prometheus.LocalPrometheus, name: str, **labels: str) -> bool:
    """True when no alert `name` (pending or firing) carries `labels`."""
    return not [
        a
        for a in prom.alerts()
        if a["labels"].get("alertname") == name and all(a["labels"].get(k) == v for k, v in labels.items())
    ]


def test_a_stopped_sealed_secrets_controller_fires_its_down_alert(
    cluster: Cluster, provider: Provider, prom: prometheus.LocalPrometheus, platform: bs.Result
) -> None:
    controller = LocalSealedSecrets(provider)
    assert controller.ready() and _no_alert(prom, "SealedSecretsControllerDown")
    controller.stop()
    try:
        [alert] = wait_for("SealedSecretsControllerDown to fire", lambda: prom.firing("SealedSecretsControllerDown"))
        assert alert["labels"]["severity"] == "critical"
        assert alert["annotations"]["runbook_url"].endswith("runbooks/alerts/SealedSecretsControllerDown.md")
        assert prom.targets()["sealed-secrets"] == "down"
    finally:
        controller.start(print)
    wait_for("SealedSecretsControllerDown to resolve", lambda: _no_alert(prom, "SealedSecretsControllerDown"))


def test_a_stopped_gatekeeper_fires_its_down_alert(
    cluster: Cluster, provider: Provider, prom: prometheus.LocalPrometheus, platform: bs.Result
) -> None:
    local = gatekeeper.local(provider)
    assert local.ready() and _no_alert(prom, "GatekeeperDown")
    local.stop()
    try:
        [alert] = wait_for("GatekeeperDown to fire", lambda: prom.firing("GatekeeperDown"))
        assert alert["labels"]["severity"] == "critical"
        assert alert["annotations"]["runbook_url"].endswith("runbooks/alerts/GatekeeperDown.md")
    finally:
        gatekeeper.start_local(provider, print)
    wait_for("GatekeeperDown to resolve", lambda: _no_alert(prom, "GatekeeperDown"))


def test_a_stopped_identity_provider_fires_its_down_alert(
    cluster: Cluster, provider: Provider, prom: prometheus.LocalPrometheus, platform: bs.Result
) -> None:
    idp = provider.identity()
    if idp is None:
        pytest.skip("this env signs in through an outside issuer (settings.yaml sso.issuer): no Keycloak to stop")
    assert idp.ready() and _no_alert(prom, "KeycloakDown")
    idp.stop()
    try:
        [alert] = wait_for("KeycloakDown to fire", lambda: prom.firing("KeycloakDown"))
        assert alert["labels"]["severity"] == "critical"
        assert alert["annotations"]["runbook_url"].endswith("runbooks/alerts/KeycloakDown.md")
        assert prom.targets()[prometheus.KEYCLOAK_JOB] == "down"
    finally:
        idp.start(print)
    wait_for("KeycloakDown to resolve", lambda: _no_alert(prom, "KeycloakDown"))


@pytest.fixture
def unopenable_sealed_secret(cluster: Cluster) -> Iterator[str]:
    """A SealedSecret whose ciphertext no key opens, in a namespace of its own."""
    namespace = "unseal-probe"
    cluster.kubectl.run("create", "namespace", namespace)
    sealed = {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {"name": "cannot-open", "namespace": namespace},
        "spec": {
            "encryptedData": {"token": "AgBnb3QgYmFkIGNpcGhlcnRleHQgZm9yIHRoZSBhbGVydCBwcm9iZQ=="},
            "template": {"metadata": {"name": "cannot-open", "namespace": namespace}},
        },
    }
    cluster.kubectl.apply_text(yaml.safe_dump(sealed))
    yield namespace
    cluster.kubectl.run("delete", "namespace", namespace, "--ignore-not-found", "--wait=false")


def test_a_sealed_secret_no_key_opens_fires_the_unseal_alert(
    cluster: Cluster, prom: prometheus.LocalPrometheus, platform: bs.Result, unopenable_sealed_secret: str
) -> None:
    def firing() -> list[dict]:
        # the controller gives up after 5 quick retries, so one failure is one burst: the counter's
        # series first appears at its total and increase() sees nothing. Change the SealedSecret so
        # that each look makes a new burst, as a controller restart or a new commit would.
        patch = {"spec": {"template": {"metadata": {"annotations": {"bio-gitops.io/probe": str(time.monotonic_ns())}}}}}
        # a change of spec: the controller ignores changes of metadata only
        argv = ["-n", unopenable_sealed_secret, "patch", "sealedsecret", "cannot-open", "--type=merge"]
        cluster.kubectl.run(*argv, "-p", json.dumps(patch))
        alerts = prom.firing("SealedSecretsUnsealErrors")
        return [a for a in alerts if a["labels"].get("namespace") == unopenable_sealed_secret]

    [alert] = wait_for("SealedSecretsUnsealErrors to fire", firing)
    assert alert["annotations"]["runbook_url"].endswith("runbooks/alerts/SealedSecretsUnsealErrors.md")
    assert not cluster.kubectl.ok("-n", unopenable_sealed_secret, "get", "secret", "cannot-open")
