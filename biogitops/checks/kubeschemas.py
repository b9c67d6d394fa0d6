"""Strict JSON Schemas for kubeconform, generated offline (never downloaded at test time).

  - Kubernetes kinds: from the OpenAPI v2 document of the pinned kube-apiserver, served by a
    throw-away kwok control plane (bio-gitops-dev-schemas), once per Kubernetes version.
  - CRDs: from the CRD manifests of the pinned upstream modules in the Go module cache
    (Argo CD, Gatekeeper, Sealed Secrets, prometheus-operator, Spark operator, CloudNativePG,
    RabbitMQ cluster operator).
Strict means: every object with declared properties refuses unknown ones.

Layout (kubeconform -schema-location): <dir>/<group>/<kind>_<version>.json, the core group
being "v1". `python -m biogitops.checks.kubeschemas` (or `nox -s render`) fills the cache.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from biogitops.config.pins import load_pins
from biogitops.paths import cache_dir
from biogitops.render import crds
from biogitops.toolchain.gomodules import argocd_crds, module_dir

FORMAT = 2  # bump when the generated schemas change shape, so caches regenerate

# upstream CRDs used by this repository's manifests, at the versions of pins.yaml (the tags are
# those of the add-on charts' CRDs, biogitops/render/crds.py, read from pins.yaml)
_TAG = {module: tag for module, tag, _ in crds.CHART_CRDS.values()}
CRD_MODULES = [
    (
        "github.com/open-policy-agent/gatekeeper/v3",
        _TAG["github.com/open-policy-agent/gatekeeper/v3"],
        [
            "charts/gatekeeper/crds/constrainttemplate-customresourcedefinition.yaml",
            "charts/gatekeeper/crds/config-customresourcedefinition.yaml",  # policies/gatekeeper/config.yaml
        ],
    ),
    (
        "github.com/bitnami-labs/sealed-secrets",
        _TAG["github.com/bitnami-labs/sealed-secrets"],
        ["helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml"],
    ),
    (
        "github.com/prometheus-operator/prometheus-operator",
        _TAG["github.com/prometheus-operator/prometheus-operator"],
        [
            "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
            "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
            "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",  # observability/
        ],
    ),
    (
        "github.com/kubeflow/spark-operator/v2",
        _TAG["github.com/kubeflow/spark-operator/v2"],
        ["charts/spark-operator-chart/crds/sparkoperator.k8s.io_sparkapplications.yaml"],
    ),
    # the operators galaxy-deps 1.1.1 runs (cloudnative-pg 1.25.0, rabbitmq cluster-operator 1.14.0);
    # that chart installs these CRDs itself, so they are here only to validate Galaxy's objects
    ("github.com/cloudnative-pg/cloudnative-pg", "v1.25.0", ["config/crd/bases/postgresql.cnpg.io_clusters.yaml"]),
    ("github.com/rabbitmq/cluster-operator", "v1.14.0", ["config/crd/bases/rabbitmq.com_rabbitmqclusters.yaml"]),
]


def schema_dir() -> Path:
    """Keyed by every version that shapes the schemas, so a pin change regenerates them."""
    pins = load_pins()
    key = json.dumps([FORMAT, pins.kubernetes_version, pins.tool("argocd").version, CRD_MODULES], sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return cache_dir() / "schemas" / f"kubernetes-{pins.kubernetes_version}-{digest}"


def location(directory: Path | None = None) -> str:
    return str(directory or schema_dir()) + "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"


def _strict(node: Any) -> Any:
    """Make every object schema with properties refuse unknown fields; normalise k8s extensions."""
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    # a `properties` map names fields, it is not a schema itself (JSONSchemaProps has fields
    # called anyOf, format, x-kubernetes-int-or-string, ...)
    out = {
        k: {name: _strict(sub) for name, sub in v.items()} if k == "properties" and isinstance(v, dict) else _strict(v)
        for k, v in node.items()
    }
    if out.get("format") == "int-or-string" or out.get("x-kubernetes-int-or-string") is True:
        for key in ("type", "format"):
            out.pop(key, None)
        out["anyOf"] = [{"type": "string"}, {"type": "integer"}]
    if out.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    preserve = out.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


def _inline(node: Any, defs: dict[str, Any], stack: tuple[str, ...] = ()) -> Any:
    if isinstance(node, list):
        return [_inline(n, defs, stack) for n in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("$ref"), str):
        name = node["$ref"].split("/")[-1]
        if name in stack:  # recursive type (JSONSchemaProps): accept anything below
            return {}
        return _inline(defs[name], defs, (*stack, name))
    return {k: _inline(v, defs, stack) for k, v in node.items()}


def _write(directory: Path, group: str, kind: str, version: str, schema: dict[str, Any]) -> None:
    path = directory / (group or "v1") / f"{kind.lower()}_{version}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema))


def from_openapi_v2(doc: dict[str, Any], directory: Path) -> int:
    """Write one strict schema per kind of a Kubernetes OpenAPI v2 document; returns the count."""
    defs = doc["definitions"]
    count = 0
    for name, definition in defs.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            schema = _strict(_inline(definition, defs, (name,)))
            props = schema.get("properties", {})
            if "kind" in props:
                props["kind"] = {"type": "string", "enum": [gvk["kind"]]}
            _write(directory, gvk["group"], gvk["kind"], gvk["version"], schema)
            count += 1
    return count


def from_crd(crd: dict[str, Any], directory: Path, object_meta: dict[str, Any]) -> int:
    """Write one strict schema per served version of a CustomResourceDefinition."""
    spec = crd["spec"]
    count = 0
    for version in spec["versions"]:
        schema = copy.deepcopy((version.get("schema") or {}).get("openAPIV3Schema") or {"type": "object"})
        props = schema.setdefault("properties", {})
        props["apiVersion"] = {"type": "string", "enum": [f"{spec['group']}/{version['name']}"]}
        props["kind"] = {"type": "string", "enum": [spec["names"]["kind"]]}
        props["metadata"] = object_meta
        _write(directory, spec["group"], spec["names"]["kind"], version["name"], _strict(schema))
        count += 1
    return count


def crd_files() -> list[Path]:
    files = list(argocd_crds())
    for module, version, paths in CRD_MODULES:
        root = module_dir(module, version)
        files += [root / p for p in paths]
    return files


def openapi_from_kwok(progress=print) -> dict[str, Any]:
    """Start a throw-away kwok control plane, read /openapi/v2, stop it."""
    from biogitops.cluster.target import Target

    provider = Target("dev", "kwok", instance="schemas", port_offset=200).provider
    provider.delete()
    try:
        provider.create(progress)
        return json.loads(provider.kubectl().run("get", "--raw", "/openapi/v2", timeout=120))
    finally:
        provider.delete()


def ensure(progress=print) -> Path:
    """The schema directory, generated on first use (about a minute) and reused after."""
    directory = schema_dir()
    marker = directory / ".complete"
    if marker.is_file():
        return directory
    staging = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    progress(f"generating Kubernetes {load_pins().kubernetes_version} schemas from the API server's OpenAPI")
    doc = openapi_from_kwok(progress)
    kinds = from_openapi_v2(doc, staging)
    meta = _strict(_inline(doc["definitions"]["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"], doc["definitions"]))
    crds = 0
    for path in crd_files():
        for crd in yaml.safe_load_all(path.read_text()):
            if crd and crd.get("kind") == "CustomResourceDefinition":
                crds += from_crd(crd, staging, meta)
    (staging / ".complete").write_text(json.dumps({"kinds": kinds, "crd_versions": crds}))
    shutil.rmtree(directory, ignore_errors=True)
    staging.rename(directory)
    progress(f"schemas: {kinds} Kubernetes kinds, {crds} CRD versions in {directory}")
    return directory


if __name__ == "__main__":
    ensure()
