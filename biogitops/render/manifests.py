"""Render the repository's manifests the way Argo CD will, to apply them and to know what to expect.

values = bootstrap_values(settings, pins, source)
objs = render_bootstrap(values)                  # AppProjects + ApplicationSets
graph = expected_graph(settings, labs, objs, source)   # every AppProject and Application
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from biogitops.config.labs import Lab
from biogitops.config.pins import Pins
from biogitops.config.settings import Settings
from biogitops.errors import BioGitopsError
from biogitops.paths import REPO_ROOT
from biogitops.render import rendercache
from biogitops.render.grafana import grafana_sign_on
from biogitops.toolchain import tools

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: helm output is large

ARGOCD = REPO_ROOT / "clusters" / "argocd"
# what bootstrap renders before it knows the cluster (preflight, render tests, `invoke graph`)
PLACEHOLDER_API_SERVER = {"ips": "192.0.2.1", "ports": "443,6443"}


def static_projects() -> list[str]:
    """The platform's AppProjects, as the bootstrap chart defines them (values `staticProjects`)."""
    return list(yaml.safe_load((ARGOCD / "bootstrap" / "values.yaml").read_text())["staticProjects"])


def helm_template(
    chart: Path,
    values: list[dict[str, Any]] | None = None,
    value_files: list[Path] | None = None,
    show_only: str | None = None,
    release: str = "render",
    set_values: list[str] | None = None,
    cache: bool = False,
) -> list[dict[str, Any]]:
    """`helm template` a local chart; returns the objects. Errors name the chart.

    `set_values` are `--set k=v` pairs, typed the way helm types them (as Argo CD's parameters).
    `cache`: reuse an earlier render of exactly these inputs (rendercache.py); bootstrap's
    per-lab renders use it, the render session never does."""
    helm = tools.which("helm")
    key = ""
    if cache:
        argv = [release, str(show_only), *[json.dumps(v, sort_keys=True) for v in values or []], *(set_values or [])]
        key = rendercache.render_key(argv, [chart, *(value_files or [])], helm)
        if (hit := rendercache.load(key)) is not None:
            return hit
    cmd = [str(helm), "template", release, str(chart)]
    with tempfile.TemporaryDirectory() as tmp:
        for vf in value_files or []:  # files first; explicit values override them, as Argo CD's parameters do
            cmd += ["-f", str(vf)]
        for i, vals in enumerate(values or []):
            path = Path(tmp) / f"values-{i}.json"
            path.write_text(json.dumps(vals))
            cmd += ["-f", str(path)]
        for pair in set_values or []:
            cmd += ["--set", pair]
        if show_only:
            cmd += ["--show-only", show_only]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if "--debug" not in ln] or ["no output"]
        error = next((ln for ln in lines if ln.startswith("Error")), lines[-1])
        raise BioGitopsError(f"helm template {chart.relative_to(REPO_ROOT)} failed: {error}")
    objs = [o for o in yaml.load_all(proc.stdout, Loader=_Loader) if o]
    if key:
        rendercache.store(key, objs)
    return objs


def bootstrap_values(
    settings: Settings,
    pins: Pins,
    repo_url: str,
    revision: str,
    api_server: dict[str, str] | None = None,
    labs: Iterable[Lab] = (),
) -> dict[str, Any]:
    """The bootstrap chart's values: from the settings, pins.yaml, the lab files (Grafana's
    organisations: bootstrap and the render session pass them all) and (once known) the cluster."""
    addons = settings.addons
    charts = {name: dict(spec) for name, spec in pins.charts.items()}
    return {
        "addonValues": addon_values(argocd_sso(settings), labs),
        "env": settings.env,
        "repoURL": repo_url,
        "revision": revision,
        "addons": addons,
        "charts": charts,
        "offeredApps": ",".join(settings.apps),
        "apiServer": dict(api_server or PLACEHOLDER_API_SERVER),
        "sso": argocd_sso(settings),
        "gatekeeper": gatekeeper_values(settings),
    }


def argocd_sso(settings: Settings) -> dict[str, Any]:
    """settings.yaml `sso:` as Argo CD's configuration receives it. `issuer: local` (dev's own
    identity provider beside the cluster) has a URL and CA only once it runs: bootstrap fills
    them in from the provider (platform/sso.py argocd_values); rendered offline it is left out."""
    sso = dict(settings.raw.get("sso") or {})
    return {} if sso.get("issuer") == "local" else sso


def addon_values(sso: dict[str, Any], labs: Iterable[Lab]) -> dict[str, Any]:
    """What the add-ons ApplicationSet passes to an add-on as valuesObject (bootstrap chart
    `addonValues`): Grafana's sign-on for kube-prometheus-stack, once an issuer is known."""
    grafana = grafana_sign_on(sso, labs)
    return {"kube-prometheus-stack": grafana} if grafana else {}


def gatekeeper_values(settings: Settings) -> dict[str, Any]:
    """How the policies Application configures constraints (settings.yaml addons.gatekeeper)."""
    spec = settings.addon("gatekeeper")
    return {
        "enforcement": spec.get("enforcement", "deny"),
        "requireImageDigests": bool(spec.get("requireImageDigests")),
    }


def lab_fields(data: dict[str, Any]) -> dict[str, Any]:
    """What of a lab file reaches the lab-tenant chart, under `lab:`: the whole file, as the `labs`
    ApplicationSet passes it (`omit . "path"`); the chart refuses any field it does not know."""
    return {k: v for k, v in data.items() if k != "path"}


def tenant_values(env: str, values: dict[str, Any], lab: Lab) -> dict[str, Any]:
    """The values the `labs` ApplicationSet gives one lab's lab-tenant release."""
    galaxy = values["charts"]["galaxy"]
    return {
        "lab": lab_fields(lab.data),
        "env": env,
        "repoURL": values["repoURL"],
        "revision": values["revision"],
        "galaxyChart": {"version": galaxy["version"], "repoURL": galaxy["repoURL"]},
        "offeredApps": values["offeredApps"],
        "apiServer": values["apiServer"],
        "labFile": lab.path.name,
    }


def argocd_config(settings: Settings) -> list[dict[str, Any]]:
    """Argo CD's configuration for one environment (clusters/argocd/config), as the root Application renders it."""
    chart = ARGOCD / "config"
    files = [chart / "values.yaml", chart / f"values.{settings.env}.yaml"]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise BioGitopsError(f"{missing[0].relative_to(REPO_ROOT)}: missing", "every environment needs Argo CD values")
    return helm_template(chart, [{"sso": argocd_sso(settings)}], value_files=files, release="argocd-config")


def render_helm_source(source: dict[str, Any], release: str, cache: bool = False) -> list[dict[str, Any]]:
    """A first-party path source of an Application, rendered as Argo CD's repo-server does:
    its value files, then `valuesObject`, then its parameters as `--set`."""
    helm = source.get("helm") or {}
    chart = REPO_ROOT / source["path"]
    files = [chart / f for f in helm.get("valueFiles") or []]
    values = [helm["valuesObject"]] if helm.get("valuesObject") else []
    pairs = [f"{p['name']}={p['value'].replace(',', chr(92) + ',')}" for p in helm.get("parameters") or []]
    return helm_template(chart, values, value_files=files, release=release, set_values=pairs, cache=cache)


def render_bootstrap(values: dict[str, Any], template: str | None = None) -> list[dict[str, Any]]:
    """The bootstrap chart as the root Application renders it (without the root itself)."""
    show = f"templates/{template}" if template else None
    return helm_template(ARGOCD / "bootstrap", [values], show_only=show, release="bootstrap")


def root_application(values: dict[str, Any]) -> dict[str, Any]:
    """The root Application that bootstrap applies: Argo CD syncs everything else from it."""
    [root] = render_bootstrap({**values, "rootValues": values}, "application-root.yaml")
    return root


@dataclass
class Graph:
    """What Argo CD should end up with, derived from the rendered manifests."""

    projects: list[str] = field(default_factory=list)
    applicationsets: list[str] = field(default_factory=list)
    applications: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> Application-ish

    def upstream(self) -> list[str]:
        """Applications whose source is outside this repository (an upstream chart or URL)."""
        return sorted(n for n, app in self.applications.items() if is_upstream(app))

    def first_party(self) -> list[str]:
        return sorted(n for n, app in self.applications.items() if not is_upstream(app))


# helm hooks Argo CD maps to sync phases; it never applies any other hook (helm test)
ARGO_RUN_HOOKS = {"pre-install", "pre-upgrade", "post-install", "post-upgrade"}


def argo_applies(obj: dict[str, Any]) -> bool:
    """Whether Argo CD applies this rendered object: not when it is a helm hook it does not run."""
    hook = (obj["metadata"].get("annotations") or {}).get("helm.sh/hook")
    return not hook or bool(set(hook.split(",")) & ARGO_RUN_HOOKS)


def is_upstream(app: dict[str, Any]) -> bool:
    spec = app.get("spec", {})
    sources = spec.get("sources") or [spec.get("source") or {}]
    labels = app.get("metadata", {}).get("labels", {})
    return any("chart" in s for s in sources) or labels.get("bio-gitops.io/source", "").startswith("upstream")


def _expand(appset: dict[str, Any], elements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Instantiate an ApplicationSet template for each generator element (the subset of Go
    templating our ApplicationSets use: `{{ .a.b }}` lookups), templatePatch included."""
    import re

    def fill(node: Any, params: dict[str, Any]) -> Any:
        if isinstance(node, str):

            def value_at(dotted: str) -> Any:
                value: Any = params
                for key in dotted.split("."):
                    value = value[key]
                return value

            def lookup(match: re.Match) -> str:
                return str(value_at(match.group(1)))

            # `{{ toJson .a }}`, below
            def omit(match: re.Match) -> str:  # `{{ omit . "a" | toJson }}`
                keys = re.findall(r'"(\w+)"', match.group(1))
                return json.dumps({k: v for k, v in params.items() if k not in keys})

            def pick(match: re.Match) -> str:  # `{{ pick . "a" "b" | toJson }}`
                keys = re.findall(r'"(\w+)"', match.group(1))
                return json.dumps({k: params[k] for k in keys if k in params})

            def trim(match: re.Match) -> str:  # `{{ trimSuffix ".yaml" .a.b }}`
                return str(value_at(match.group(2))).removesuffix(match.group(1))

            node = re.sub(r"\{\{\s*omit \.((?:\s+\"\w+\")+)\s*\|\s*toJson\s*\}\}", omit, node)
            node = re.sub(r"\{\{\s*pick \.((?:\s+\"\w+\")+)\s*\|\s*toJson\s*\}\}", pick, node)
            node = re.sub(r"\{\{\s*toJson \.([\w.]+)\s*\}\}", lambda m: json.dumps(value_at(m.group(1))), node)
            node = re.sub(r"\{\{\s*trimSuffix \"([^\"]*)\" \.([\w.]+)\s*\}\}", trim, node)
            return re.sub(r"\{\{\s*\.([\w.]+)\s*\}\}", lookup, node)
        if isinstance(node, list):
            return [fill(x, params) for x in node]
        if isinstance(node, dict):
            return {k: fill(v, params) for k, v in node.items()}
        return node

    def merge(base: Any, patch: Any) -> Any:  # a strategic merge for our patches: maps merge, lists replace
        if isinstance(base, dict) and isinstance(patch, dict):
            return {**base, **{k: merge(base.get(k), v) for k, v in patch.items()}}
        return patch

    apps = []
    for el in elements:
        app = fill(appset["spec"]["template"], el)
        if patch := appset["spec"].get("templatePatch"):
            app = merge(app, yaml.safe_load(fill(patch, el)))
        apps.append(app)
    return apps


def _elements(appset: dict[str, Any], labs: list[Lab]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for gen in appset["spec"]["generators"]:
        if "list" in gen:
            out += gen["list"]["elements"]
        elif "git" in gen:
            excluded = [f["path"] for f in gen["git"].get("files") or [] if f.get("exclude")]
            for lab in labs:
                rel = lab.path.relative_to(REPO_ROOT)
                if any(fnmatch.fnmatchcase(str(rel), pattern) for pattern in excluded):
                    continue  # Argo CD never reads it
                # as the git files generator makes them: the file's keys, then `path` over any of its
                # own, and `values` only when the generator sets some
                element = {**lab.data, "path": {"path": str(rel.parent), "filename": rel.name}}
                if gen["git"].get("values"):
                    element["values"] = gen["git"]["values"]
                out.append(element)
    return out


def expected_graph(settings: Settings, labs: list[Lab], objects: list[dict[str, Any]], values: dict[str, Any]) -> Graph:
    graph = Graph()
    for obj in objects:
        if obj["kind"] == "AppProject":
            graph.projects.append(obj["metadata"]["name"])
        if obj["kind"] == "Application":  # the root
            graph.applications[obj["metadata"]["name"]] = obj
        if obj["kind"] != "ApplicationSet":
            continue
        graph.applicationsets.append(obj["metadata"]["name"])
        for app in _expand(obj, _elements(obj, labs)):
            graph.applications[app["metadata"]["name"]] = app
    # each lab's project and Applications come from its lab-tenant release, as Argo CD renders it;
    # helm runs as a process, so threads render labs in parallel, and unchanged labs come from the cache
    sources = [(graph.applications[f"lab-{lab.name}"]["spec"]["source"], f"lab-{lab.name}") for lab in labs]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        renders = list(pool.map(lambda item: render_helm_source(*item, cache=True), sources))
    for objs in renders:
        for obj in objs:
            if obj["kind"] == "Application":
                graph.applications[obj["metadata"]["name"]] = obj
            if obj["kind"] == "AppProject":
                graph.projects.append(obj["metadata"]["name"])
    return graph
