"""Grafana's sign-on: the kube-prometheus-stack values that make Grafana sign users in through the
platform's OIDC issuer (generic OAuth), with one Grafana organisation per lab.

    values = grafana_sign_on(sso, labs)     # {} when no issuer is known (dev rendered offline)
    values["grafana"]["grafana.ini"]["auth.generic_oauth"]["org_mapping"]
    # 'genomics-admins:lab-genomics:Viewer genomics:lab-genomics:Viewer ...'

`sso` is Argo CD's `sso` values (render/manifests.py argocd_sso; in dev, filled in by bootstrap from
the running identity provider, platform/sso.py argocd_values), so Grafana trusts exactly the issuer
Argo CD does. Bootstrap passes the result to the kube-prometheus-stack Application as `valuesObject`
(bootstrap chart values `addonValues`), the way it already passes the settings it computed: Grafana's
org mapping is one ini key over every lab, and no ApplicationSet generator can fold the lab files into
one value. So a lab file added without `invoke bootstrap` (which `invoke lab.new` asks for, and which
syncs dev's realm too) gets no Grafana organisation until the next bootstrap: access is late, never wider.

Who gets what (role_attribute_strict: a user with no mapped group is refused):
  platform-admins          Grafana server admin, Admin of the main organisation (and, as server
                           admin, of every lab's)
  <lab> owners / members   Viewer of the organisation `lab-<lab>`, and nothing elsewhere
Folder permissions by group (team sync) are Grafana Enterprise; an organisation per lab is what
open-source Grafana offers to keep one lab's dashboards from another's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import yaml

from biogitops.config.labs import PLATFORM_GROUP, Lab
from biogitops.errors import ConfigError
from biogitops.paths import REPO_ROOT

VALUES_FILE = REPO_ROOT / "observability" / "prometheus" / "values.yaml"  # kube-prometheus-stack's, ours
CA_CONFIG_MAP = "grafana-identity-ca"
CA_MOUNT = "/etc/grafana/identity-ca"
ORG_PREFIX = "lab-"  # a lab's organisation is named like its namespace
LAB_ROLE = "Viewer"
# the client secret of staging's and prod's Grafana client, sealed per environment (secrets/);
# Grafana reads GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET from it, so it never sits in grafana.ini
# (optional: Grafana still starts, its SSO button failing, until the environment's sealed Secret lands)
CLIENT_SECRET = {"name": "grafana-oidc", "key": "client-secret", "optional": True}
# org_mapping is split on spaces and commas, each entry on `:`; Grafana releases that read the group
# part as a regular expression would widen a group with these, and `\` escapes a `:`
UNSAFE = re.compile(r"[\s:,\\\[\]\"'^$.*+?(){}|]")


def org_name(lab: Lab) -> str:
    """The Grafana organisation of a lab."""
    return f"{ORG_PREFIX}{lab.name}"


def mapped_group(lab: Lab, role: str) -> str:
    """A lab's `owners` or `members` group, refused when it would break or widen `org_mapping`."""
    group = str(lab.data.get(role) or "")
    if not group or UNSAFE.search(group):
        bad = " ".join("a space" if c.isspace() else repr(c) for c in sorted(set(UNSAFE.findall(group))))
        why = f"it holds {bad}" if bad else "empty"
        raise ConfigError(
            f"{lab.path}: {role}: group {group!r} cannot be mapped to Grafana ({why})",
            f"name the group with letters, digits, '-', '_' or '@' only, e.g. {lab.name}-{role}",
        )
    return group


def org_mapping(labs: Iterable[Lab]) -> str:
    """`<group>:<org>:<role>` for each lab's owners and members, space-separated, in lab order."""
    entries: list[str] = []
    for lab in labs:
        for role in ("owners", "members"):
            entry = f"{mapped_group(lab, role)}:{org_name(lab)}:{LAB_ROLE}"
            if entry not in entries:
                entries.append(entry)
    return " ".join(entries)


def issuer_endpoints(issuer: str) -> dict[str, str]:
    """The authorization, token and userinfo endpoints of an OIDC issuer, laid out as Keycloak
    serves them (dev's own provider and the staging/prod placeholder); refused unless HTTPS."""
    if not re.fullmatch(r"https://[^@/\s]+(/\S*)?", issuer):
        raise ConfigError(
            f"sso.issuer {issuer!r}: Grafana signs in only through an HTTPS issuer",
            "set sso.issuer in clusters/<env>/settings.yaml to the provider's https:// URL",
        )
    base = issuer.rstrip("/") + "/protocol/openid-connect"
    return {"auth_url": f"{base}/auth", "token_url": f"{base}/token", "api_url": f"{base}/userinfo"}


def trust_ca(ca_pem: str) -> dict[str, Any]:
    """Grafana chart values that mount `ca_pem` at CA_MOUNT: a ConfigMap the chart creates with the
    release (extraObjects) and its mount. Grafana verifies the issuer's certificate against it when
    it exchanges a code for a token (`tls_client_ca`)."""
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CA_CONFIG_MAP},
        "data": {"ca.crt": ca_pem},
    }
    mount = {"name": "identity-ca", "mountPath": CA_MOUNT, "configMap": CA_CONFIG_MAP, "readOnly": True}
    # Helm replaces a list from a later values source: the mounts of our values file come along
    ours = (yaml.safe_load(VALUES_FILE.read_text()) or {}).get("grafana", {}).get("extraConfigmapMounts") or []
    return {"extraObjects": [config_map], "extraConfigmapMounts": [*ours, mount]}


def grafana_sign_on(sso: dict[str, Any], labs: Iterable[Lab]) -> dict[str, Any]:
    """kube-prometheus-stack values for Grafana's generic OAuth against `sso` (issuer, clientID,
    grafanaClientID, publicClient, groupsClaim); {} without an issuer, leaving Grafana's local admin."""
    labs = list(labs)
    mapping = org_mapping(labs)  # refuses a bad group even where no issuer is known yet
    if not sso.get("issuer"):
        return {}
    claim = sso.get("groupsClaim") or "groups"
    # a claim that is no bare JMESPath identifier (`cognito:groups`) is quoted
    claim = claim if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", claim) else json.dumps(claim)
    oauth: dict[str, Any] = {
        "enabled": True,
        "name": "SSO",
        "client_id": sso.get("grafanaClientID") or sso["clientID"],
        **issuer_endpoints(sso["issuer"]),
        "scopes": "openid profile email groups",
        "use_pkce": True,
        "groups_attribute_path": claim,
        "org_attribute_path": claim,
        # the platform group is matched exactly here (JMESPath), never through org_mapping; a token
        # without the claim evaluates to no role (strict: refused), not to an error
        "role_attribute_path": f"contains(not_null({claim}, `[]`), '{PLATFORM_GROUP}') && 'GrafanaAdmin' || ''",
        "allow_assign_grafana_admin": True,
        "role_attribute_strict": True,
        "org_mapping": mapping,
        "allow_sign_up": True,
        "skip_org_role_sync": False,
    }
    grafana: dict[str, Any] = {
        "grafana.ini": {
            "auth.generic_oauth": oauth,
            # a user signs up into the organisations the mapping names, never into one of their own
            "users": {"auto_assign_org": False},
        },
        # the organisations org_mapping names must exist before Grafana resolves it: created at start
        # by the hook in observability/prometheus/values.yaml, from this list
        "env": {"BIO_GITOPS_LAB_ORGS": " ".join(org_name(lab) for lab in labs)},
    }
    if sso.get("rootCA"):  # dev's own provider: a CA made on this machine (public, not a secret)
        grafana.update(trust_ca(sso["rootCA"]))
        oauth["tls_client_ca"] = f"{CA_MOUNT}/ca.crt"
    if not sso.get("publicClient"):  # dev's client is public: PKCE and no secret
        grafana["envValueFrom"] = {"GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET": {"secretKeyRef": dict(CLIENT_SECRET)}}
        # staging and prod keep no local accounts in the browser; the chart's admin stays for its
        # own API calls (dashboard reloads, the organisations hook)
        grafana["grafana.ini"]["auth"] = {"disable_login_form": True}
    return {"grafana": grafana}
