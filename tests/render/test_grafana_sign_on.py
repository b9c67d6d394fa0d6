"""Grafana signs users in through the platform's OIDC issuer, one organisation per lab: built here
the way Argo CD builds it (the bootstrap chart's add-ons ApplicationSet, its valuesObject over our
value files), then judged the way Grafana decides a sign-in (role_attribute_path by JMESPath, then
org_mapping, under role_attribute_strict). kube-prometheus-stack itself renders only where its chart
is reachable. Run: `pytest tests/render/test_grafana_sign_on.py`."""

from __future__ import annotations

import base64
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any, ClassVar

import jmespath
import pytest
import yaml

from biogitops.config.labs import Lab, load_labs
from biogitops.config.pins import load_pins
from biogitops.config.settings import load_settings
from biogitops.errors import ConfigError
from biogitops.paths import REPO_ROOT
from biogitops.platform import sso
from biogitops.render.grafana import issuer_endpoints
from biogitops.render.manifests import _elements, _expand, addon_values, bootstrap_values, render_bootstrap
from biogitops.render.targets import PLACEHOLDER_REPO, render_upstream, upstream_source, upstream_value_files

CHART = "kube-prometheus-stack"
ENVS = ["dev", "prod"]
DEV_ISSUER = "https://127.0.0.1:26440/realms/bio-gitops"
ROLES = ["Viewer", "Editor", "Admin"]  # ascending
MAIN_ORG = "Main Org."


class RunningIdp:
    """What bootstrap reads of dev's identity provider once it runs (cluster/kwok/keycloak.py)."""

    issuer = DEV_ISSUER

    def ca_pem(self) -> bytes:
        return b"-----BEGIN CERTIFICATE-----\ndev\n-----END CERTIFICATE-----\n"


def _merge(base: Any, over: Any) -> Any:
    """Helm's merge of value files: maps merge, anything else is replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in over.items()}}
    return over


def final_values(env: str, labs: list[Lab] | None = None) -> dict[str, Any]:
    """kube-prometheus-stack's values in `env` as its Application passes them: our value files, then
    the valuesObject the add-ons ApplicationSet gives it. dev's issuer as bootstrap fills it in from
    the running identity provider; dev's lab files stand in for every environment's."""
    labs = load_labs("dev") if labs is None else labs
    values = bootstrap_values(load_settings(env), load_pins(), PLACEHOLDER_REPO, "HEAD", labs=labs)
    if env == "dev":  # bootstrap's argocd step (platform/bootstrap.py)
        values["sso"] = sso.argocd_values(RunningIdp())  # type: ignore[arg-type]
        values["addonValues"] = addon_values(values["sso"], labs)
    [appset] = render_bootstrap(values, "applicationset-addons.yaml")
    [app] = [a for a in _expand(appset, _elements(appset, labs)) if a["metadata"]["name"] == CHART]
    [source] = [s for s in app["spec"]["sources"] if s.get("chart") == CHART]
    merged: dict[str, Any] = {}
    for path in upstream_value_files(CHART, env):
        merged = _merge(merged, yaml.safe_load(path.read_text()) or {})
    return _merge(merged, source["helm"]["valuesObject"])


def sign_in(ini: dict[str, Any], groups: list[str] | None) -> tuple[dict[str, str], bool] | None:
    """Grafana's decision for a token with these groups (None: no groups claim): the role in each
    organisation and whether the user is server admin; None when the sign-in is refused."""
    oauth = ini["auth.generic_oauth"]
    claims = {} if groups is None else {"groups": groups}
    direct = jmespath.search(oauth["role_attribute_path"], claims) or ""
    server_admin = direct == "GrafanaAdmin" and bool(oauth.get("allow_assign_grafana_admin"))
    direct = "Admin" if direct == "GrafanaAdmin" else direct
    member_of = jmespath.search(oauth["org_attribute_path"], claims) or []
    orgs: dict[str, str] = {}
    for entry in re.split(r"[\s,]+", oauth["org_mapping"].strip()):
        if not entry:
            continue
        group, org, role = entry.split(":")
        if group in member_of:
            orgs[org] = max(orgs.get(org, role), role, key=ROLES.index)
    if not orgs:
        if direct not in ROLES and oauth["role_attribute_strict"]:
            return None
        return {MAIN_ORG: direct or "Viewer"}, server_admin
    return {o: max(r, direct, key=ROLES.index) if direct else r for o, r in orgs.items()}, server_admin


def _ini(env: str) -> dict[str, Any]:
    return final_values(env)["grafana"]["grafana.ini"]


@pytest.mark.parametrize("env", ENVS)
def test_platform_admins_are_grafana_admins(env: str) -> None:
    assert sign_in(_ini(env), ["platform-admins"]) == ({MAIN_ORG: "Admin"}, True)


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("group", ["genomics", "genomics-admins"], ids=["member", "owner"])
def test_a_lab_user_views_only_their_labs_organisation(env: str, group: str) -> None:
    assert sign_in(_ini(env), [group]) == ({"lab-genomics": "Viewer"}, False)


@pytest.mark.parametrize("env", ENVS)
def test_a_user_of_two_labs_views_both(env: str) -> None:
    assert sign_in(_ini(env), ["genomics", "proteomics"]) == (
        {"lab-genomics": "Viewer", "lab-proteomics": "Viewer"},
        False,
    )


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize(
    "groups",
    [[], None, ["genomics-students"], ["platform-admins-genomics"]],
    ids=["no-group", "no-groups-claim", "unmapped-group", "group-named-like-the-platforms"],
)
def test_a_user_without_a_mapped_group_is_refused(env: str, groups: list[str] | None) -> None:
    assert sign_in(_ini(env), groups) is None


@pytest.mark.parametrize("env", ENVS)
def test_the_client_secret_never_sits_in_the_values(env: str) -> None:
    grafana = final_values(env)["grafana"]
    assert "client_secret" not in yaml.safe_dump(grafana["grafana.ini"])
    env_from = grafana.get("envValueFrom") or {}
    if env == "dev":  # a public client: PKCE, nothing to keep secret
        assert env_from == {}
    else:
        ref = env_from["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"]["secretKeyRef"]
        # optional: without the sealed Secret Grafana still starts (the pod would not, otherwise)
        assert ref == {"name": "grafana-oidc", "key": "client-secret", "optional": True}
    assert grafana["grafana.ini"]["auth.generic_oauth"]["use_pkce"] is True


@pytest.mark.parametrize("env", ENVS)
def test_every_endpoint_is_the_issuers_over_https(env: str) -> None:
    oauth = _ini(env)["auth.generic_oauth"]
    issuer = DEV_ISSUER if env == "dev" else load_settings(env).raw["sso"]["issuer"]
    for key in ("auth_url", "token_url", "api_url"):
        assert oauth[key].startswith(issuer.rstrip("/") + "/"), key
        assert oauth[key].startswith("https://"), key
    assert oauth["scopes"].split() == ["openid", "profile", "email", "groups"]
    assert _ini(env)["users"]["auto_assign_org"] is False


@pytest.mark.parametrize(
    "issuer", ["http://login.example.org/realms/x", "login.example.org"], ids=["http", "no-scheme"]
)
def test_an_issuer_that_is_not_https_is_refused(issuer: str) -> None:
    with pytest.raises(ConfigError, match="HTTPS issuer"):
        issuer_endpoints(issuer)


class FakeGrafana(http.server.BaseHTTPRequestHandler):
    """Grafana's organisation API as the hook uses it, on loopback; admin:pw is the chart's admin."""

    orgs: ClassVar[list[str]] = ["Main Org."]

    def _reply(self, code: int) -> None:
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"{}")

    def do_GET(self) -> None:
        if self.path == "/api/health":
            return self._reply(200)
        if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"admin:pw").decode():
            return self._reply(401)
        name = self.path.removeprefix("/api/orgs/name/")
        return self._reply(200 if name in self.orgs else 404)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.orgs.append(body["name"])
        self._reply(200)

    def log_message(self, *args: Any) -> None:
        pass


def run_hook(script: str, orgs: str) -> int:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeGrafana)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"PATH": os.environ["PATH"], "BIO_GITOPS_LAB_ORGS": orgs, "GF_SERVER_HTTP_PORT": str(server.server_port)}
    env |= {"GF_SECURITY_ADMIN_USER": "admin", "GF_SECURITY_ADMIN_PASSWORD": "pw"}
    try:
        return subprocess.run(["bash", "-c", script], env=env, timeout=60, check=False).returncode
    finally:
        server.shutdown()


@pytest.mark.parametrize("env", ENVS)
def test_every_mapped_organisation_is_created_by_the_hook(env: str) -> None:
    grafana = final_values(env)["grafana"]
    mapped = {e.split(":")[1] for e in grafana["grafana.ini"]["auth.generic_oauth"]["org_mapping"].split()}
    orgs = grafana["env"]["BIO_GITOPS_LAB_ORGS"]
    assert mapped == set(orgs.split()) == {"lab-genomics", "lab-proteomics"}
    [*_, script] = grafana["lifecycleHooks"]["postStart"]["exec"]["command"]
    if not shutil.which("curl"):
        pytest.skip("curl is missing here (Grafana's image has it): the hook cannot run")
    FakeGrafana.orgs = ["Main Org.", "lab-genomics"]
    # it created one: it fails, so the kubelet restarts Grafana, which then resolves every name
    assert run_hook(script, orgs) == 1
    assert FakeGrafana.orgs == ["Main Org.", "lab-genomics", "lab-proteomics"]
    assert run_hook(script, orgs) == 0  # the restart: nothing to create
    assert run_hook(script, "") == 0  # no issuer known, no organisations to make


def test_dev_rendered_before_its_identity_provider_runs_keeps_the_local_admin() -> None:
    values = bootstrap_values(load_settings("dev"), load_pins(), PLACEHOLDER_REPO, "HEAD", labs=load_labs("dev"))
    assert values["addonValues"] == {}


@pytest.mark.parametrize(
    "group",
    ["genomics:admins", "genomics,admins", "genomics admins", "genomics.admins", "genomics\\:x", ""],
    ids=["colon-splits-the-entry", "comma-splits-the-list", "space-splits-the-list", "dot-widens-as-a-pattern",
         "backslash-escapes", "empty-group"],
)  # fmt: skip
def test_a_group_that_breaks_org_mapping_is_refused(group: str) -> None:
    path = REPO_ROOT / "clusters" / "dev" / "labs" / "genomics.yaml"
    data = {**yaml.safe_load(path.read_text()), "owners": group}
    lab = Lab(name="genomics", path=Path(path), data=data)
    with pytest.raises(ConfigError) as err:
        final_values("prod", [lab])
    line = str(err.value)
    assert "\n" not in line
    assert str(path) in line and "owners" in line and "cannot be mapped to Grafana" in line
    assert "e.g. genomics-owners" in line


def test_the_chart_renders_the_sign_on_into_grafana_ini() -> None:
    source, why = upstream_source(CHART, load_pins())
    if why:
        pytest.skip(f"{CHART} not rendered: {why}; no values schema of its Grafana sub-chart is cached here either")
    objs = render_upstream(CHART, "prod", source)
    [config] = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == f"{CHART}-grafana"]
    ini = config["data"]["grafana.ini"]
    assert "[auth.generic_oauth]" in ini and "role_attribute_strict = true" in ini


def test_dev_grafana_trusts_the_identity_providers_ca_and_no_other_env_gets_one() -> None:
    """dev's issuer is served with a CA made on this machine: without it Grafana's code-for-token
    exchange fails on the certificate. The chart creates the ConfigMap and mounts it."""
    grafana = final_values("dev")["grafana"]
    oauth = grafana["grafana.ini"]["auth.generic_oauth"]
    mounts = {m["name"]: m for m in grafana["extraConfigmapMounts"]}
    assert "dashboard-provider-bio-gitops" in mounts  # our values file's mount is kept (Helm replaces lists)
    mount = mounts["identity-ca"]
    assert oauth["tls_client_ca"] == f"{mount['mountPath']}/ca.crt"
    [config_map] = [o for o in grafana["extraObjects"] if o["metadata"]["name"] == mount["configMap"]]
    assert config_map["kind"] == "ConfigMap" and config_map["data"]["ca.crt"] == RunningIdp().ca_pem().decode()
    for env in ("staging", "prod"):  # the organisation's provider, with a public certificate
        other = final_values(env)["grafana"]
        assert "tls_client_ca" not in other["grafana.ini"]["auth.generic_oauth"]
        assert not other.get("extraObjects")
        assert "identity-ca" not in {m["name"] for m in other["extraConfigmapMounts"]}
