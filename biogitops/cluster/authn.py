"""How the API server trusts an OIDC issuer: its structured authentication configuration
(apiserver.config.k8s.io/v1 AuthenticationConfiguration), passed with `--authentication-config`
when the API server starts (kwok: kwokctl's componentsPatches, provider.py).

Usernames and groups from the issuer's ID tokens are prefixed with `PREFIX`, so that no token
can name a `system:` user or group, or a group that another authenticator issues; RoleBindings
name the prefixed groups (clusters/argocd/lab-tenant, clusters/base/rbac).

    write_config(path, issuer="https://127.0.0.1:26440/realms/bio-gitops", ca_pem=ca)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CLIENT_ID = "bio-gitops"  # the audience of the ID tokens the API server accepts
PREFIX = "oidc:"


def authentication_config(issuer: str, ca_pem: bytes, client_id: str = CLIENT_ID) -> dict[str, Any]:
    """The AuthenticationConfiguration that trusts `issuer` (served with a certificate of `ca_pem`)."""
    return {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "AuthenticationConfiguration",
        "jwt": [
            {
                "issuer": {"url": issuer, "audiences": [client_id], "certificateAuthority": ca_pem.decode()},
                "claimMappings": {
                    "username": {"claim": "preferred_username", "prefix": PREFIX},
                    "groups": {"claim": "groups", "prefix": PREFIX},
                },
                # the prefix already keeps them out; refused again should a mapping ever change
                "userValidationRules": [
                    {
                        "expression": "!user.username.startsWith('system:')",
                        "message": "a token may not name a system: user",
                    },
                    {
                        "expression": "user.groups.all(g, !g.startsWith('system:'))",
                        "message": "a token may not name a system: group",
                    },
                ],
            }
        ],
    }


def write_config(path: Path, issuer: str, ca_pem: bytes) -> Path:
    """Write the configuration (the API server reloads the file when it changes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(authentication_config(issuer, ca_pem), sort_keys=False))
    return path
