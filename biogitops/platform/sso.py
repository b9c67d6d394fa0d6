"""Sign-on in dev: the identity provider's realm made from the lab files.

For every lab file its `owners` and `members` groups; one test user per role per lab
(`<lab>-owner` in the owners group, `<lab>-member` in the members group) and `platform-admin`
in `platform-admins`, each with a password generated on this machine and kept 0600 in the
cluster's state directory (never in git). A lab file removed removes its groups and users; what
bio-gitops did not make (other groups, other users) is left alone.

    realm = Realm(LocalKeycloak.for_provider(provider))
    realm.sync(load_labs("dev"), progress)       # idempotent; bootstrap runs it
    realm.token("genomics-member")               # an ID token for kubectl / the Argo CD CLI
    realm.users()                                # {user: [groups]}

The API server trusts the realm's ID tokens with usernames and groups prefixed by `PREFIX`
(biogitops/cluster/kwok/provider.py writes its authentication configuration), so no token can
name a `system:` user or group.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from biogitops.cluster.authn import CLIENT_ID, PREFIX
from biogitops.config.labs import PLATFORM_GROUP, Lab
from biogitops.errors import BioGitopsError

PLATFORM_USER = "platform-admin"
MANAGED = "managed-by"  # group attribute that marks what this module made
GROUP_NAME_MAX = 255  # Keycloak's column for a group name


class SsoError(BioGitopsError):
    """The identity provider refused or could not be reached; the message names the call."""


class IdentityProvider(Protocol):
    """What the realm needs of the process that serves it (cluster/kwok/keycloak.py)."""

    base_url: str
    issuer: str

    def ssl_context(self) -> Any: ...
    def ca_pem(self) -> bytes: ...
    def admin_password(self) -> str: ...

    @property
    def home(self) -> Path: ...


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Wanted:
    """What the realm should hold: group names, and users with their groups."""

    groups: tuple[str, ...]
    users: dict[str, tuple[str, ...]]


def wanted(labs: Iterable[Lab]) -> Wanted:
    """The groups and test users the lab files ask for; a lab group that is a platform group, or
    that Keycloak cannot hold, is refused here, before any change."""
    groups: list[str] = [PLATFORM_GROUP]
    users: dict[str, tuple[str, ...]] = {PLATFORM_USER: (PLATFORM_GROUP,)}
    for lab in labs:
        for role in ("owner", "member"):
            group = str(lab.data.get(f"{role}s") or "")
            where = f"{lab.path}: {role}s"
            if group == PLATFORM_GROUP or group.startswith("system:") or group.startswith(PREFIX):
                raise SsoError(
                    f"{where}: group {group!r} collides with a platform group",
                    f"name the lab's own group, e.g. {lab.name}-{role}s",
                )
            if "/" in group or len(group) > GROUP_NAME_MAX:
                raise SsoError(
                    f"{where}: group {group!r} cannot be held by the identity provider "
                    f"('/' or over {GROUP_NAME_MAX} characters)",
                    f"use letters, digits and '-', e.g. {lab.name}-{role}s",
                )
            if group not in groups:
                groups.append(group)
            users[f"{lab.name}-{role}"] = (group,)
    return Wanted(tuple(groups), users)


class Realm:
    """The `bio-gitops` realm of a running identity provider, through its admin REST API."""

    def __init__(self, idp: IdentityProvider, realm: str = "bio-gitops") -> None:
        self.idp = idp
        self.realm = realm
        self._admin_token: str | None = None

    # ---------------------------------------------------------------- HTTP
    def _call(self, method: str, path: str, body: Any = None, form: dict[str, str] | None = None) -> Any:
        try:
            return self._once(method, path, body, form)
        except SsoError as err:
            if not (path.startswith("/admin/") and "HTTP 401" in err.message):
                raise
            self._admin_token = None  # the master realm's tokens live a minute: take a new one
            return self._once(method, path, body, form)

    def _once(self, method: str, path: str, body: Any, form: dict[str, str] | None) -> Any:
        url = self.idp.base_url + path
        headers = {}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if path.startswith("/admin/"):
            headers["Authorization"] = f"Bearer {self._admin()}"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.idp.ssl_context()) as resp:
                text = resp.read().decode()
                return json.loads(text) if text.strip() else None
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:200]
            raise SsoError(f"identity provider: {method} {path}: HTTP {err.code} {detail}") from None
        except OSError as err:
            raise SsoError(
                f"identity provider at {self.idp.base_url} does not answer: {err}",
                "start it with `invoke bootstrap --env dev`, or see its log under the cluster's state directory",
            ) from None

    def _admin(self) -> str:
        if self._admin_token is None:
            from biogitops.cluster.kwok.keycloak import ADMIN

            self._admin_token = self._grant("master", "admin-cli", ADMIN, self.idp.admin_password())["access_token"]
        return self._admin_token

    def _grant(self, realm: str, client: str, user: str, password: str) -> dict[str, Any]:
        form = {"grant_type": "password", "client_id": client, "username": user, "password": password}
        form["scope"] = "openid"  # an ID token besides the access token
        return self._call("POST", f"/realms/{realm}/protocol/openid-connect/token", form=form)

    # ---------------------------------------------------------------- passwords (outside git)
    @property
    def password_file(self) -> Path:
        return self.idp.home / "users.json"

    def passwords(self) -> dict[str, str]:
        return json.loads(self.password_file.read_text()) if self.password_file.is_file() else {}

    def _save_passwords(self, passwords: dict[str, str]) -> None:
        self.password_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.password_file.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.write_text(json.dumps(passwords, indent=2, sort_keys=True))
        tmp.replace(self.password_file)

    # ---------------------------------------------------------------- realm
    def ensure_realm(self) -> None:
        try:
            self._call("GET", f"/admin/realms/{self.realm}")
        except SsoError as err:
            if "HTTP 404" not in err.message:
                raise
            # ID tokens live five minutes: a user removed from a group loses access that soon
            self._call("POST", "/admin/realms", {"realm": self.realm, "enabled": True, "accessTokenLifespan": 300})
        if not self._call("GET", f"/admin/realms/{self.realm}/clients?clientId={CLIENT_ID}"):
            self._call("POST", f"/admin/realms/{self.realm}/clients", client_representation())

    def _groups(self) -> dict[str, dict[str, Any]]:
        found = self._call("GET", f"/admin/realms/{self.realm}/groups?briefRepresentation=false&max=10000")
        return {g["name"]: g for g in found}

    def _users(self) -> dict[str, dict[str, Any]]:
        found = self._call("GET", f"/admin/realms/{self.realm}/users?max=10000&briefRepresentation=true")
        return {u["username"]: u for u in found}

    def sync(self, labs: Iterable[Lab], progress: Callable[[str], None] = _quiet) -> dict[str, list[str]]:
        """Make the realm hold exactly the groups and test users the lab files ask for (and leave
        what bio-gitops did not make). Returns what changed: {"added": [...], "removed": [...]}."""
        want = wanted(labs)  # refuses bad groups before any change
        self.ensure_realm()
        changes: dict[str, list[str]] = {"added": [], "removed": []}
        groups = self._groups()
        for name in want.groups:
            if name not in groups:
                group = {"name": name, "attributes": {MANAGED: ["bio-gitops"]}}
                self._call("POST", f"/admin/realms/{self.realm}/groups", group)
                changes["added"].append(f"group {name}")
        groups = self._groups()
        passwords = self.passwords()
        users = self._users()
        for user in want.users:
            if user not in users:
                passwords[user] = passwords.get(user) or secrets.token_urlsafe(18)
                self._call("POST", f"/admin/realms/{self.realm}/users", user_representation(user, passwords[user]))
                changes["added"].append(f"user {user}")
        self._save_passwords(passwords)
        users = self._users()
        for user, member_of in want.users.items():
            uid = users[user]["id"]
            current = {g["name"]: g["id"] for g in self._call("GET", f"/admin/realms/{self.realm}/users/{uid}/groups")}
            for name in member_of:
                if name not in current:
                    self._call("PUT", f"/admin/realms/{self.realm}/users/{uid}/groups/{groups[name]['id']}")
            for name, gid in current.items():
                if name not in member_of and MANAGED in (groups.get(name, {}).get("attributes") or {}):
                    self._call("DELETE", f"/admin/realms/{self.realm}/users/{uid}/groups/{gid}")
        for user, record in users.items():
            if user not in want.users and user.endswith(("-owner", "-member")) and user in passwords:
                self._call("DELETE", f"/admin/realms/{self.realm}/users/{record['id']}")
                passwords.pop(user)
                changes["removed"].append(f"user {user}")
        for name, group in groups.items():
            if name not in want.groups and MANAGED in (group.get("attributes") or {}):
                self._call("DELETE", f"/admin/realms/{self.realm}/groups/{group['id']}")
                changes["removed"].append(f"group {name}")
        self._save_passwords(passwords)
        for line in changes["added"] + changes["removed"]:
            progress(f"identity provider: {line}")
        return changes

    # ---------------------------------------------------------------- users
    def token(self, user: str, password: str | None = None) -> str:
        """An ID token of `user` (password from this machine's store unless given)."""
        known = self.passwords()
        if password is None and user not in known:
            raise SsoError(
                f"no test user {user!r} in the dev identity provider",
                f"users: {', '.join(sorted(known)) or 'none'} (`invoke sso.users --env dev`)",
            )
        return self._grant(self.realm, CLIENT_ID, user, password or known[user])["id_token"]

    def users(self) -> dict[str, list[str]]:
        """Every user of the realm with its groups."""
        listing = {}
        for user, record in sorted(self._users().items()):
            groups = self._call("GET", f"/admin/realms/{self.realm}/users/{record['id']}/groups")
            listing[user] = sorted(g["name"] for g in groups)
        return listing


def exec_credential(id_token: str) -> dict[str, Any]:
    """The ExecCredential a kubeconfig's exec plugin hands kubectl: the token and when it expires
    (kubectl asks again then)."""
    payload = id_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    expires = datetime.datetime.fromtimestamp(claims["exp"], datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": id_token, "expirationTimestamp": expires},
    }


def user_kubeconfig(admin_kubeconfig: Path, user: str, token_command: list[str]) -> dict[str, Any]:
    """A kubeconfig that is `user` and nothing else: the cluster's server and CA from the admin's
    kubeconfig, no client certificate (the API server would take it over any token), and an
    exec plugin that runs `token_command` for a fresh ID token whenever the last one expires."""
    admin = yaml.safe_load(admin_kubeconfig.read_text())
    current = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])["context"]
    cluster = next(c for c in admin["clusters"] if c["name"] == current["cluster"])
    exec_plugin = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": token_command[0],
        "args": token_command[1:],
        "interactiveMode": "Never",
        "provideClusterInfo": False,
    }
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": user, "user": {"exec": exec_plugin}}],
        "contexts": [{"name": user, "context": {"cluster": cluster["name"], "user": user}}],
        "current-context": user,
    }


def argocd_values(idp: IdentityProvider) -> dict[str, Any]:
    """Argo CD's `sso` values for dev's own identity provider (clusters/argocd/config): the
    issuer, the public client and the CA it is served with."""
    return {
        "issuer": idp.issuer,
        "clientID": CLIENT_ID,
        "publicClient": True,
        "rootCA": idp.ca_pem().decode(),
    }


def client_representation() -> dict[str, Any]:
    """The one public client: password grant for `sso.token`, the standard flow for browsers,
    and the groups (by name, not path) in ID tokens."""
    return {
        "clientId": CLIENT_ID,
        "publicClient": True,
        "directAccessGrantsEnabled": True,
        "standardFlowEnabled": True,
        "redirectUris": ["http://localhost:8085/auth/callback", "http://127.0.0.1/*"],
        "protocolMappers": [
            {
                "name": "groups",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-group-membership-mapper",
                "config": {
                    "claim.name": "groups",
                    "full.path": "false",
                    "id.token.claim": "true",
                    "access.token.claim": "true",
                    "userinfo.token.claim": "true",
                },
            }
        ],
    }


def user_representation(user: str, password: str) -> dict[str, Any]:
    # a complete profile: Keycloak 26 asks an incomplete one to finish it before any token
    return {
        "username": user,
        "enabled": True,
        "email": f"{user}@bio-gitops.invalid",
        "emailVerified": True,
        "firstName": user,
        "lastName": "test user",
        "credentials": [{"type": "password", "value": password, "temporary": False}],
    }
