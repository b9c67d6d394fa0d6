"""Tenancy and data safety as rendered: a lab file reaches the charts only as `lab:`, every
project admits only what it needs, deletion never cascades into a lab's data, and Argo CD's
configuration differs per environment. The live proofs are in tests/integration."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from biogitops.config.labs import Lab
from biogitops.config.pins import load_pins
from biogitops.config.settings import load_settings
from biogitops.errors import BioGitopsError
from biogitops.paths import REPO_ROOT
from biogitops.render.manifests import (
    ARGOCD,
    _elements,
    _expand,
    argocd_config,
    bootstrap_values,
    helm_template,
    render_bootstrap,
    render_helm_source,
    root_application,
    static_projects,
    tenant_values,
)
from biogitops.render.policies import kustomize_build

INVALID = REPO_ROOT / "tests" / "fixtures" / "labs" / "invalid"
HOSTILE = REPO_ROOT / "tests" / "fixtures" / "labs" / "hostile" / "widen.yaml"
GENOMICS = REPO_ROOT / "clusters" / "dev" / "labs" / "genomics.yaml"
ENVS = ["dev", "staging", "prod"]


def _values(env: str = "dev", **settings_changes: Any) -> dict[str, Any]:
    settings = load_settings(env)
    values = bootstrap_values(settings, load_pins(), "https://git.example.invalid/r.git", "HEAD")
    values.update(settings_changes)
    return values


def _appset(values: dict[str, Any], name: str) -> dict[str, Any]:
    [appset] = [o for o in render_bootstrap(values) if o["kind"] == "ApplicationSet" and o["metadata"]["name"] == name]
    return appset


def _raw_lab(path: Path) -> Lab:
    """A lab file as Argo CD sees it: parsed, never validated (no preflight)."""
    return Lab(name=path.stem, path=path, data=yaml.safe_load(path.read_text()))


def _generated(appset_name: str, lab: Lab, values: dict[str, Any]) -> dict[str, Any]:
    appset = _appset(values, appset_name)
    apps = _expand(appset, [e for e in _elements(appset, [lab]) if e.get("path")])
    [app] = [a for a in apps if lab.name in a["metadata"]["name"]]
    return app


# -------------------------------------------------------------- a lab file cannot widen its rights


def test_override_keys_in_a_lab_file_never_reach_the_charts() -> None:
    values = _values()
    app = _generated("labs", _raw_lab(HOSTILE), values)
    helm = app["spec"]["source"]["helm"]
    assert not helm.get("valueFiles"), "a lab file must not be a values file of a platform chart"
    # the file arrives whole, under `lab:` only; nothing it says reaches the platform's values
    assert set(helm["valuesObject"]) == {"lab"}
    passed = yaml.safe_dump(helm["parameters"])
    for planted in ("evil.example.invalid", "jupyter", "6.6.6", "10Ti", "1Pi", "system:masters", "other"):
        assert planted not in passed, planted


def test_hostile_lab_is_refused_by_the_chart_naming_the_key() -> None:
    """A file with the platform's keys (limits, kinds, chart repositories) renders nothing at all:
    the chart refuses any field a lab file does not have (rule lab-fields), so its Application
    alone fails, with the key in the message."""
    app = _generated("labs", _raw_lab(HOSTILE), _values())
    with pytest.raises(BioGitopsError, match=r"widen.yaml: \w+: is not a field of a lab file \(rule lab-fields\)"):
        render_helm_source(app["spec"]["source"], "lab-genomics")


def test_nested_lab_files_are_not_matched_by_argo_cd() -> None:
    [params] = [o for o in argocd_config(load_settings("dev")) if o["metadata"]["name"] == "argocd-cmd-params-cm"]
    assert params["data"]["applicationsetcontroller.enable.new.git.file.globbing"] == "true"
    for name in ("labs",):
        [git] = [g["git"] for g in _appset(_values(), name)["spec"]["generators"] if "git" in g]
        assert [f["path"] for f in git["files"] if not f.get("exclude")] == ["clusters/dev/labs/*.yaml"]


# -------------------------------------------------------------- least-privilege projects


def _projects(env: str = "dev") -> dict[str, dict[str, Any]]:
    values = _values(env)
    out = {}
    for proj in render_bootstrap(values):
        if proj["kind"] == "AppProject":
            out[proj["metadata"]["name"]] = proj
    return out


@pytest.mark.parametrize("name", [*static_projects(), "argocd"])
def test_every_static_project_whitelists_its_kinds(name: str) -> None:
    spec = _projects()[name]["spec"]
    assert "namespaceResourceWhitelist" in spec and "clusterResourceWhitelist" in spec
    for kind in spec["namespaceResourceWhitelist"] + spec["clusterResourceWhitelist"]:
        assert kind != {"group": "*", "kind": "*"}, f"{name} admits every kind"
    assert all(d["namespace"] != "*" for d in spec["destinations"])


def test_platform_projects_exist_before_any_applicationset_that_uses_them() -> None:
    # an ApplicationSet naming a missing project is refused and looked at again only after
    # minutes: the root (its sync waves) must have created every project it uses first
    objs = render_bootstrap(_values())
    wave = {
        (o["kind"], o["metadata"]["name"]): int(
            o["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", 0)
        )
        for o in objs
    }
    for appset in [o for o in objs if o["kind"] == "ApplicationSet"]:
        app = appset["spec"]["template"]
        for project in {app["spec"]["project"], *_list_projects(appset)} - {"{{ .project }}"}:
            assert ("AppProject", project) in wave, (
                f"{appset['metadata']['name']} uses {project}, which the root does not create"
            )
            assert wave[("AppProject", project)] < wave[("ApplicationSet", appset["metadata"]["name"])]


def _list_projects(appset: dict[str, Any]) -> set[str]:
    """Projects named by an ApplicationSet's list elements (the add-ons name theirs there)."""
    return {
        e["project"]
        for g in appset["spec"]["generators"]
        for e in (g.get("list") or {}).get("elements", [])
        if "project" in e
    }


def test_a_lab_tenancy_creates_its_own_project_and_no_other() -> None:
    tenant = helm_template(ARGOCD / "lab-tenant", [tenant_values("dev", _values(), _raw_lab(GENOMICS))])
    [project] = [o for o in tenant if o["kind"] == "AppProject"]
    assert project["metadata"]["name"] == "lab-genomics" and project["metadata"]["namespace"] == "argocd"
    annotations = project["metadata"]["annotations"]
    assert "Delete=false" in annotations["argocd.argoproj.io/sync-options"], "offboarding deletes a lab's project"
    apps = [o for o in tenant if o["kind"] == "Application"]
    assert all(
        int(annotations["argocd.argoproj.io/sync-wave"])
        < int(a["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", 0))
        for a in apps
    )


def test_platform_project_reaches_neither_argocd_nor_labs() -> None:
    namespaces = {d["namespace"] for d in _projects()["platform"]["spec"]["destinations"]}
    assert "argocd" not in namespaces and not any(n.startswith("lab-") for n in namespaces)


def test_per_lab_applications_leave_schema_validation_to_the_render_session() -> None:
    # at each apply, validation parses the API server's OpenAPI document again: a third of the
    # controller's CPU at 100 labs; `nox -s render` validates these manifests strictly instead
    values = _values()
    lab = _raw_lab(REPO_ROOT / "clusters" / "dev" / "labs" / "genomics.yaml")
    tenancy = _generated("labs", lab, values)
    assert "Validate=false" in tenancy["spec"]["syncPolicy"]["syncOptions"]
    lab.data["apps"] = {**lab.data["apps"], "galaxy": {}}
    apps = {
        o["metadata"]["name"].rsplit("-", 1)[1]: o
        for o in helm_template(ARGOCD / "lab-tenant", [tenant_values("dev", values, lab)])
        if o["kind"] == "Application"
    }
    assert "Validate=false" in apps["nextflow"]["spec"]["syncPolicy"]["syncOptions"]
    # Galaxy's upstream chart is not rendered offline: its apply keeps validating
    assert "Validate=false" not in apps["galaxy"]["spec"]["syncPolicy"].get("syncOptions", [])


def test_lab_tenancy_runs_in_the_tenants_project() -> None:
    values = _values()
    app = _generated("labs", _raw_lab(REPO_ROOT / "clusters" / "dev" / "labs" / "genomics.yaml"), values)
    assert app["spec"]["project"] == "tenants"
    tenants = _projects()["tenants"]["spec"]
    assert {d["namespace"] for d in tenants["destinations"]} == {"lab-*", "argocd"}
    kinds = {k["kind"] for k in tenants["namespaceResourceWhitelist"]}
    assert kinds == {"ResourceQuota", "LimitRange", "NetworkPolicy", "RoleBinding", "Application", "AppProject"}
    tenant = helm_template(ARGOCD / "lab-tenant", [tenant_values("dev", values, _raw_lab(GENOMICS))])
    assert {o["kind"] for o in tenant} - {"Namespace"} <= kinds
    assert {o["spec"]["project"] for o in tenant if o["kind"] == "Application"} == {"lab-genomics"}


def test_lab_egress_to_the_api_server_names_its_endpoints_only() -> None:
    values = {**_values(), "apiServer": {"ips": "10.1.2.3,fd00::1", "ports": "6443"}}
    tenant = helm_template(ARGOCD / "lab-tenant", [tenant_values("dev", values, _raw_lab(GENOMICS))])
    policies = [o for o in tenant if o["kind"] == "NetworkPolicy" and "apiserver" in o["metadata"]["name"]]
    assert policies
    for pol in policies:
        [rule] = pol["spec"]["egress"]
        assert rule["to"] == [{"ipBlock": {"cidr": "10.1.2.3/32"}}, {"ipBlock": {"cidr": "fd00::1/128"}}]
        assert rule["ports"] == [{"protocol": "TCP", "port": 6443}]


# every platform namespace with policies of its own (one folder each, as listed there)
PLATFORM_NAMESPACES = yaml.safe_load((REPO_ROOT / "clusters/base/network-policies/kustomization.yaml").read_text())[
    "resources"
]


@pytest.mark.parametrize("env", ENVS)
def test_platform_namespaces_reach_the_api_server_endpoints_and_no_other_address_on_its_ports(env: str) -> None:
    """Issue 23 item 1 (network half): the Spark operator's namespace allowed any address on 443,
    so a token it uploads could leave the cluster. Rendered as Argo CD applies cluster-base:
    the kustomize build of clusters/<env> with the platform ApplicationSet's patches."""
    values = {**_values(env), "apiServer": {"ips": "10.1.2.3,fd00::1", "ports": "443,6443"}}
    [app] = [
        a
        for a in _expand(_appset(values, "platform"), _elements(_appset(values, "platform"), []))
        if a["metadata"]["name"] == "cluster-base"
    ]
    objs = kustomize_build(REPO_ROOT / "clusters" / env, (app["spec"]["source"].get("kustomize") or {}).get("patches"))
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"]
    for namespace in PLATFORM_NAMESPACES:
        egress = [
            rule
            for p in policies
            if p["metadata"].get("namespace") == namespace and "Egress" in p["spec"].get("policyTypes", [])
            for rule in p["spec"].get("egress") or []
        ]
        assert egress, f"{namespace}: no egress policy"
        for rule in egress:
            ports = {port.get("port") for port in rule.get("ports") or [{}]}
            if ports & {443, 6443, None}:  # a rule that opens the API server's ports (or every port)
                assert rule.get("to"), f"{namespace}: egress on {ports} to any address"
                blocks = [peer["ipBlock"]["cidr"] for peer in rule["to"] if "ipBlock" in peer]
                assert blocks in ([], ["10.1.2.3/32", "fd00::1/128"]), f"{namespace}: egress to {blocks}"


# -------------------------------------------------------------- deletion never cascades into data


def test_application_sets_keep_resources_when_deleted_and_name_no_finalizer() -> None:
    values = _values()
    for obj in render_bootstrap(values):
        if obj["kind"] == "ApplicationSet":
            assert obj["spec"]["syncPolicy"]["preserveResourcesOnDeletion"] is True, obj["metadata"]["name"]
            assert "finalizers" not in obj["spec"]["template"]["metadata"], obj["metadata"]["name"]
    tenant = helm_template(ARGOCD / "lab-tenant", [tenant_values("dev", values, _raw_lab(GENOMICS))])
    for app in (o for o in tenant if o["kind"] == "Application"):
        assert "finalizers" not in app["metadata"], app["metadata"]["name"]


KEEP = "Prune=false,Delete=false"


def _sync_options(obj: dict[str, Any]) -> str:
    return (obj["metadata"].get("annotations") or {}).get("argocd.argoproj.io/sync-options", "")


def test_lab_namespace_and_workdir_survive_any_git_change() -> None:
    tenant = helm_template(ARGOCD / "lab-tenant", [tenant_values("dev", _values(), _raw_lab(GENOMICS))])
    [ns] = [o for o in tenant if o["kind"] == "Namespace"]
    assert _sync_options(ns) == KEEP
    nextflow = REPO_ROOT / "applications" / "nextflow"
    objs = helm_template(nextflow, [{"lab": "x"}], value_files=[nextflow / "values.yaml", nextflow / "values.dev.yaml"])
    [pvc] = [o for o in objs if o["kind"] == "PersistentVolumeClaim"]
    assert _sync_options(pvc) == KEEP


def test_crds_and_platform_namespaces_are_never_pruned() -> None:
    for folder in ("crds", "namespaces"):
        kustomization = yaml.safe_load((REPO_ROOT / "clusters" / "base" / folder / "kustomization.yaml").read_text())
        assert kustomization["commonAnnotations"]["argocd.argoproj.io/sync-options"] == KEEP


def test_galaxy_is_never_pruned_automatically() -> None:
    values = _values()
    proteomics = _raw_lab(REPO_ROOT / "clusters" / "dev" / "labs" / "proteomics.yaml")
    tenant = helm_template(ARGOCD / "lab-tenant", [tenant_values("dev", values, proteomics)])
    [galaxy] = [o for o in tenant if o["kind"] == "Application" and o["metadata"]["name"].endswith("-galaxy")]
    assert galaxy["spec"]["syncPolicy"]["automated"]["prune"] is False


def test_a_lab_tenancy_refused_while_an_upgrade_widens_tenants_is_retried() -> None:
    # upgrading from the layout without lab AppProjects in the tenancy, `tenants` admits
    # AppProject only once the root has synced it: a lab's sync that ran first must be retried
    retry = _appset(_values(), "labs")["spec"]["template"]["spec"]["syncPolicy"].get("retry") or {}
    assert retry.get("limit", 0) != 0
    assert retry["backoff"]["maxDuration"]


def test_no_addons_application_set_when_every_addon_is_disabled() -> None:
    values = _values(addons={name: False for name in _values()["addons"]})
    assert "addons" not in {o["metadata"]["name"] for o in render_bootstrap(values) if o["kind"] == "ApplicationSet"}


# -------------------------------------------------------------- Argo CD manages its own bootstrap


def test_root_application_syncs_the_bootstrap_chart_and_config_with_self_heal() -> None:
    root = root_application(_values())
    assert root["spec"]["project"] == "argocd"
    assert [s["path"] for s in root["spec"]["sources"]] == ["clusters/argocd/bootstrap", "clusters/argocd/config"]
    assert root["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    # as Argo CD renders it, the chart holds `default` and never the root itself
    inner = render_bootstrap(root["spec"]["sources"][0]["helm"]["valuesObject"])
    assert "default" in {o["metadata"]["name"] for o in inner if o["kind"] == "AppProject"}
    assert not [o for o in inner if o["kind"] == "Application"]


def test_root_passes_only_what_bootstrap_computed_so_git_edits_to_chart_defaults_take_effect() -> None:
    # chart defaults (platform projects' whitelists, chart placement) must come from git at each
    # sync, not be frozen into the root's valuesObject at the last `invoke bootstrap`
    values = _values()
    passed = root_application(values)["spec"]["sources"][0]["helm"]["valuesObject"]
    assert passed == values
    assert "staticProjects" not in passed and "operatorClusterKinds" not in passed


def test_root_project_admits_only_argo_cds_own_objects() -> None:
    spec = _projects()["argocd"]["spec"]
    kinds = {k["kind"] for k in spec["namespaceResourceWhitelist"]}
    assert kinds == {"ConfigMap", "NetworkPolicy", "AppProject", "ApplicationSet"}
    assert [d["namespace"] for d in spec["destinations"]] == ["argocd"]


# -------------------------------------------------------------- Argo CD configuration per environment


def _cm(env: str, name: str) -> dict[str, str]:
    [cm] = [o for o in argocd_config(load_settings(env)) if o["metadata"]["name"] == name]
    return cm["data"]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_a_status_write_alone_does_not_refresh_an_application(env: str) -> None:
    # upstream's install carries these filters in the argocd-cm that ours replaces; without them
    # every quota, namespace and child-Application status write re-compares the lab's Application
    cm = _cm(env, "argocd-cm")
    assert yaml.safe_load(cm["resource.customizations.ignoreResourceUpdates.all"]) == {"jsonPointers": ["/status"]}
    child = yaml.safe_load(cm["resource.customizations.ignoreResourceUpdates.argoproj.io_Application"])
    assert ".operation" in child["jqPathExpressions"]
    excluded = {k for rule in yaml.safe_load(cm["resource.exclusions"]) for k in rule["kinds"]}
    assert {"Endpoints", "EndpointSlice"} <= excluded


def test_dev_keeps_the_local_admin_and_no_resync_shorter_than_upstreams() -> None:
    assert _cm("dev", "argocd-cm")["admin.enabled"] == "true"
    # `invoke bootstrap` refreshes on its own; a shorter resync costs CPU with many labs
    assert int(_cm("dev", "argocd-cm")["timeout.reconciliation"].removesuffix("s")) >= 120
    assert _cm("dev", "argocd-cmd-params-cm")["server.insecure"] == "true"


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_use_sso_only(env: str) -> None:
    cm = _cm(env, "argocd-cm")
    assert cm["admin.enabled"] == "false"
    assert cm["timeout.reconciliation"] != "60s"
    assert _cm(env, "argocd-cmd-params-cm")["server.insecure"] == "false"
    oidc = yaml.safe_load(cm["oidc.config"])
    assert oidc["issuer"] == load_settings(env).raw["sso"]["issuer"]
    assert oidc["clientSecret"] == "$oidc.clientSecret"


def test_config_without_admin_and_without_sso_is_refused() -> None:
    with pytest.raises(BioGitopsError, match="sso.issuer is required when the admin account is disabled"):
        helm_template(ARGOCD / "config", [{"adminEnabled": False, "sso": {}}])


def test_lab_groups_get_roles_in_their_own_project_only() -> None:
    lab = _raw_lab(REPO_ROOT / "clusters" / "dev" / "labs" / "genomics.yaml")
    [project] = [
        o
        for o in helm_template(ARGOCD / "lab-tenant", [tenant_values("dev", _values(), lab)])
        if o["kind"] == "AppProject"
    ]
    roles = {r["name"]: r for r in project["spec"]["roles"]}
    assert roles["owners"]["groups"] == ["genomics-admins"] and roles["members"]["groups"] == ["genomics"]
    for role in roles.values():
        for policy in role["policies"]:
            assert policy.split(", ")[4] == "lab-genomics/*", policy


# -------------------------------------------------------------- the handbook says what the code does

GITOPS = REPO_ROOT / "handbook" / "GITOPS.md"


def _table(heading: str, first_column: str) -> list[list[str]]:
    """The rows of the table under `heading` in GITOPS.md whose header starts with `first_column`."""
    text = GITOPS.read_text().split(heading, 1)[1]
    rows, inside = [], False
    for line in text.splitlines():
        if line.startswith(f"| {first_column} |"):
            inside = True
            continue
        if inside and line.startswith("| ---"):
            continue
        if inside and line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif inside:
            break
    assert rows, f"no table starting with `{first_column}` under {heading!r} in {GITOPS}"
    return rows


def _ticked(cell: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", cell))


def _kind_names(kinds: list[dict[str, str]]) -> set[str]:
    return {k["kind"] if k["kind"] != "*" else f"{k['group']}/*" for k in kinds}


def test_handbook_projects_table_matches_the_charts() -> None:
    projects = _projects()
    values = yaml.safe_load((ARGOCD / "bootstrap" / "values.yaml").read_text())
    operator = {
        "cluster": _kind_names(values["operatorClusterKinds"]),
        "namespaced": _kind_names(values["operatorNamespacedKinds"]),
    }
    rows = {r[0].strip("`"): r for r in _table("### AppProjects", "project")}
    assert set(rows) - {"lab-<lab>"} == set(projects)
    for name, (_, _, destinations, cluster, namespaced) in rows.items():
        if name in ("default", "lab-<lab>"):
            continue
        spec = projects[name]["spec"]
        assert _ticked(destinations) == {d["namespace"] for d in spec["destinations"]}, name
        for cell, field, scope in (
            (cluster, "clusterResourceWhitelist", "cluster"),
            (namespaced, "namespaceResourceWhitelist", "namespaced"),
        ):
            documented = _ticked(cell) | (operator[scope] if "operator set" in cell else set())
            assert documented == _kind_names(spec[field]), f"{name} {field}"


def test_handbook_deletion_table_matches_the_files() -> None:
    for obj, setting, where in _table("### Deletion never reaches a lab's data", "object"):
        wanted = setting.strip("`")
        base = REPO_ROOT
        for path in sorted(_ticked(where), key=lambda p: "/" not in p):
            file = REPO_ROOT / path if "/" in path else base / path
            base = file.parent
            assert wanted in file.read_text(), f"{obj}: {file} does not say {wanted}"


def test_lab_tenancy_renders_from_the_parameters_argo_cd_passes() -> None:
    # a single API server port arrives through `--set` as a number, not a string
    values = {**_values(), "apiServer": {"ips": "10.1.2.3", "ports": "6443"}}
    app = _generated("labs", _raw_lab(REPO_ROOT / "clusters" / "dev" / "labs" / "genomics.yaml"), values)
    objs = render_helm_source(app["spec"]["source"], "lab-genomics")
    [policy] = [o for o in objs if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "allow-apiserver"]
    assert policy["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 6443}]
    assert {o["metadata"]["namespace"] for o in objs if o["kind"] != "Namespace"} == {"lab-genomics", "argocd"}


def test_labs_application_set_template_cannot_fail_for_one_lab_file() -> None:
    """A template error stops the whole ApplicationSet (applicationset_controller.go returns before
    creating any Application): the labs template reads only what every file has, its path."""
    appset = _appset(_values(), "labs")
    assert "missingkey=error" not in (appset["spec"].get("goTemplateOptions") or [])
    template = yaml.safe_dump(appset["spec"]["template"]) + appset["spec"]["templatePatch"]
    lookups = set(re.findall(r"\{\{[^}]*\}\}", template))
    assert lookups == {
        '{{ trimSuffix ".yaml" .path.filename }}',
        "{{ .path.filename }}",
        '{{ omit . "path" | toJson }}',
    }, lookups


def test_a_lab_file_without_a_name_still_makes_only_its_own_application() -> None:
    lab = Lab(name="broken", path=REPO_ROOT / "clusters" / "dev" / "labs" / "broken.yaml", data={"owners": "x"})
    app = _generated("labs", lab, _values())
    assert app["metadata"]["name"] == "lab-broken"
    assert app["spec"]["destination"]["namespace"] == "lab-broken"
    with pytest.raises(BioGitopsError, match=r"name: .* \(rule lab-name\)"):
        render_helm_source(app["spec"]["source"], "lab-broken")


def test_a_lab_file_named_like_a_labs_app_is_never_generated() -> None:
    """`genomics-nextflow.yaml` would generate `lab-genomics-nextflow`, lab-genomics' own Nextflow
    Application, and the ApplicationSet would take it over: such files are not read at all."""
    from biogitops.config.settings import LAB_APPS

    [git] = [g["git"] for g in _appset(_values(), "labs")["spec"]["generators"] if "git" in g]
    excluded = {f["path"] for f in git["files"] if f.get("exclude")}
    assert excluded == {f"clusters/dev/labs/*-{app}.yaml" for app in LAB_APPS}
