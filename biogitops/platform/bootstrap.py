"""`invoke bootstrap --env ENV`: from nothing (or anything) to a reconciled platform.

Steps, in order; each is idempotent and waits for its result, so a re-run after an
interruption at any point converges:
  1. preflight          settings, lab files and charts valid; tools and container engine present;
                        on kind's upstream image path, every image pin verified (imagesource.py)
  2. cluster            the provider's cluster (kind / kwok / existing)
  3. argocd             Argo CD at the pinned version; on kwok also the CRDs of
                        clusters/base/crds, from the Go module cache (the crds Application
                        cannot reach their URLs offline)
  4. default-project    `default` held empty and deny-everything; no Application may use it
  5. root               the root Application (and its project): from then on Argo CD syncs
                        the bootstrap chart (projects, ApplicationSets) and its own config
                        with self-heal; bootstrap applies these once and never again
  6. projects           waits until the platform's AppProjects exist (the root creates them
                        before any ApplicationSet; each lab's comes with its tenancy)
  7. platform           waits for the platform, add-ons, policies and labs Applications, layer
                        by layer (kwok: starts the local Gatekeeper before the policies)
  8. wait               every first-party Application Synced and Healthy; upstream-chart
                        Applications Synced and Healthy or reported "source unreachable";
                        every AppProject, each lab's included, present
Nothing is applied before everything has been validated (step 1). A re-run with nothing
changed writes nothing: objects the root Application owns are not applied again, and Argo CD
is asked to refresh only when the snapshot it reads has moved.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from biogitops.cluster import Provider, kube
from biogitops.cluster.kube import Kubectl
from biogitops.cluster.kubewatch import ObjectWatch
from biogitops.cluster.target import Target
from biogitops.config.labs import Lab, check_apps, load_labs, load_labs_at
from biogitops.config.pins import load_pins
from biogitops.errors import BioGitopsError
from biogitops.paths import REPO_ROOT
from biogitops.platform import argocd, sealkeys, sso
from biogitops.platform.gitsource import bare_repo, source_for
from biogitops.render import affected, crds, sealing
from biogitops.render.manifests import (
    Graph,
    addon_values,
    bootstrap_values,
    expected_graph,
    is_upstream,
    render_bootstrap,
    root_application,
)

STEPS = ("preflight", "cluster", "argocd", "default-project", "root", "projects", "platform", "wait")
ROOT = "root"
HEALTHY = "Synced/Healthy"
ANNOTATE_BATCH = 200  # Applications per `kubectl annotate` (a long argv, one process)
APPLICATIONS_PATH = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"
POLL_S = 2.0  # between two looks at the watched Applications (a look lists nothing)
UNREACHABLE = "source unreachable"
# first-party Applications that need an upstream one running, not only its CRDs: the policies'
# constraint kinds exist only once Gatekeeper has compiled their templates. Where that upstream
# source is unreachable (kind on our machines; kwok runs Gatekeeper as a local process) they
# settle as BLOCKED instead of failing the bootstrap.
NEEDS_RUNNING = {"policies": "gatekeeper"}
BLOCKED = "blocked: {dependency} is source unreachable"
# what a failed fetch of a chart or remote resource says (DNS, TCP, TLS, HTTP)
_NETWORK = re.compile(
    r"no such host|dial tcp|lookup |connection refused|i/o timeout|timed out|"
    r"failed to fetch|unable to resolve|could not resolve|network is unreachable|"
    r"(Get|HEAD) \"https?://|x509|tls:",
    re.IGNORECASE,
)

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


class BootstrapError(BioGitopsError):
    """A bootstrap step failed; the message names the step."""


@dataclass
class Result:
    provider: Provider
    graph: Graph
    states: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def write_timings(self, path: Path) -> None:
        """Each step's seconds as JSON (`invoke bootstrap --timings FILE`; the benchmarks read it)."""
        path.write_text(json.dumps(self.timings))


def app_state(app: dict[str, Any]) -> str:
    """One word for an Application: Synced/Healthy, source unreachable, error: …, or sync/health."""
    status = app.get("status") or {}
    sync = (status.get("sync") or {}).get("status")
    health = (status.get("health") or {}).get("status")
    errors = [c for c in status.get("conditions") or [] if c.get("type", "").endswith("Error")]
    if sync == "Synced" and health == "Healthy":
        return HEALTHY
    if errors and is_upstream(app) and all(_NETWORK.search(c.get("message", "")) for c in errors):
        return UNREACHABLE
    if errors:
        return f"error: {errors[0].get('message', '')[:160]}"
    return f"{sync or '-'}/{health or '-'}"


def settled(name: str, state: str, upstream: set[str]) -> bool:
    return state == HEALTHY or (name in upstream and state == UNREACHABLE) or state.startswith("blocked: ")


def blocked(name: str, state: str, live: dict[str, dict[str, Any]]) -> str:
    """`state`, or BLOCKED when `name` is not healthy and the upstream it needs is unreachable."""
    dependency = NEEDS_RUNNING.get(name)
    if state == HEALTHY or dependency is None or dependency not in live:
        return state
    return BLOCKED.format(dependency=dependency) if app_state(live[dependency]) == UNREACHABLE else state


class Bootstrap:
    """One bootstrap run on a target's cluster; `run()` executes the steps, `stop_after` ends early.

    Bootstrap(Target("dev", "kwok"), print).run()          # what `invoke bootstrap` does
    Bootstrap(Target.of(provider), print).run("argocd")    # a provider already made (tests)
    """

    def __init__(self, target: Target, progress: Progress = _quiet, timeout: float = 900) -> None:
        self.target = target
        self.settings = target.settings
        self.provider = target.provider
        self.progress = progress
        self.timeout = timeout
        self.labs: list[Lab] = []
        self.commit = ""  # the dev snapshot commit Argo CD should be at (empty for remote sources)
        self.values: dict[str, Any] = {}
        self.graph = Graph()
        self.result = Result(self.provider, self.graph)
        self.watch: ObjectWatch | None = None
        self._changes: dict[str, set[str] | None] = {}  # older revision -> files changed since (affected.py)
        self._lab_files: dict[str, str] | None = None

    # ---------------------------------------------------------------- helpers
    @property
    def kubectl(self) -> Kubectl:
        return self.target.kubectl

    def apply_once(self, objs: list[dict[str, Any]]) -> None:
        """Apply objects that Argo CD owns afterwards, only while they are missing: applying them
        again would undo what the root Application writes (its tracking annotation)."""
        for obj in objs:
            kind, name = obj["kind"].lower(), obj["metadata"]["name"]
            if not self.kubectl.ok("-n", "argocd", "get", f"{kind}.argoproj.io", name):
                self.kubectl.apply_text(yaml.safe_dump(obj))

    def refresh(self) -> None:
        """Make Argo CD look at a new dev snapshot now instead of at its next poll (minutes): the
        root and the ApplicationSets re-read git, and Applications behind the snapshot whose
        inputs it changed re-compare (affected.py: the others render the same, and Argo CD moves
        them at its next poll). Nothing is written when no Application is behind."""
        if not self.commit:
            return
        behind = []
        for name, app in self.applications().items():
            revisions = _revisions(app)
            if name in self.graph.applications and revisions and self.commit not in revisions and self.concerns(app):
                behind.append(name)
        if not behind:
            return
        self.progress(f"snapshot {self.commit[:10]} is new to {len(behind)} Application(s): asking Argo CD to refresh")
        for start in range(0, len(behind), ANNOTATE_BATCH):  # one kubectl call per batch, not per Application
            self.kubectl.run(
                "-n", "argocd", "annotate", "--overwrite", "application", *behind[start : start + ANNOTATE_BATCH],
                "argocd.argoproj.io/refresh=normal",
            )  # fmt: skip
        refresh_applicationsets(self.kubectl, self.graph.applicationsets)

    def applications(self) -> dict[str, dict[str, Any]]:
        """Every Application by name: from the watch the waits keep, else listed now."""
        if self.watch:
            return self.watch.objects()
        items = self.kubectl.json("-n", "argocd", "get", "applications.argoproj.io")["items"]
        return {a["metadata"]["name"]: a for a in items}

    def watch_applications(self) -> None:
        """From now on read Applications from one watch, not a list per look (kubewatch.py)."""
        if not self.watch:
            self.watch = ObjectWatch(self.kubectl, APPLICATIONS_PATH)
            self.watch.start()

    def wait_apps(self, names: list[str], what: str, timeout: float | None = None) -> dict[str, str]:
        """Wait until each named Application is settled; raise naming the ones that are not."""
        upstream = set(self.graph.upstream())
        self.watch_applications()
        deadline = time.monotonic() + (timeout or self.timeout)
        start = time.monotonic()
        states: dict[str, str] = {}
        while True:
            live = self.applications()
            states = {n: blocked(n, self._state(live.get(n)), live) for n in names}
            done = [n for n in names if settled(n, states[n], upstream)]
            self.progress(f"{what}: {len(done)}/{len(names)} settled ({time.monotonic() - start:.0f}s)")
            if len(done) == len(names):
                return states
            hard = [n for n in names if states[n].startswith("error:") and n not in upstream]
            if time.monotonic() > deadline or (hard and time.monotonic() - start > 120):
                bad = {n: s for n, s in states.items() if not settled(n, s, upstream)}
                raise BootstrapError(
                    f"step wait: {what}: not settled after {time.monotonic() - start:.0f}s: "
                    + "; ".join(f"{n}={s}" for n, s in sorted(bad.items())),
                    f"inspect with `invoke status --env {self.settings.env}` and the Argo CD logs",
                )
            time.sleep(POLL_S)

    def _state(self, app: dict[str, Any] | None) -> str:
        if app is None:
            return "missing"
        state = app_state(app)
        sources = app["spec"].get("sources") or [app["spec"].get("source") or {}]
        ours = self.commit and any(s.get("repoURL") == self.values.get("repoURL") for s in sources)
        if state == HEALTHY and ours and self.commit not in _revisions(app) and self.concerns(app):
            return "Synced/Healthy at an older revision"  # healthy, but the snapshot may change it
        return state

    def concerns(self, app: dict[str, Any]) -> bool:
        """Whether the snapshot may change what `app` renders, compared with the revision it is at."""
        revisions = _revisions(app)
        if not revisions:
            return True
        if revisions[0] not in self._changes:
            self._changes[revisions[0]] = affected.changed_files(bare_repo(self.provider), revisions[0], self.commit)
        name = app["metadata"]["name"]
        expected = self.graph.applications.get(name, app)  # as the snapshot defines it
        changed = self._changes[revisions[0]]
        return affected.concerned(expected, changed, self.settings.env, self.lab_files.get(name), live=app)

    @property
    def lab_files(self) -> dict[str, str]:
        """Application name -> the lab file it is generated from (its tenancy and its apps)."""
        if self._lab_files is None:
            files = {
                lab.name: str(lab.path.relative_to(REPO_ROOT)) if lab.path.is_relative_to(REPO_ROOT) else ""
                for lab in self.labs
            }
            self._lab_files = {}
            for name, app in self.graph.applications.items():  # one pass, not one per lab
                lab = app["metadata"].get("labels", {}).get("bio-gitops.io/lab") or name.removeprefix("lab-")
                if lab in files and (name == f"lab-{lab}" or "bio-gitops.io/lab" in app["metadata"].get("labels", {})):
                    self._lab_files[name] = files[lab]
        return self._lab_files

    # ---------------------------------------------------------------- steps
    def preflight(self) -> None:
        env = self.settings.env
        self.labs = load_labs(env)
        if self.settings.repo_url != "local":  # Argo CD reads the pinned revision, not this working tree
            self.labs = load_labs_at(env, self.settings.repo_revision)
        check_apps(self.labs, self.settings)
        sso.wanted(self.labs)  # a lab group that is a platform group stops here, before any change
        # committed SealedSecrets: their namespace's folder and this environment's certificate
        # (dev's are re-sealed in the cluster step when this machine's key changed)
        sealing.check_sealed(self.settings.env, check_cert=self.settings.env != "dev")
        pins = load_pins()
        # the checks of `invoke doctor`: python, git, pinned tools, disk; kwok's ports; kind's engine
        # and node image build (biogitops/cluster/doctor.py)
        self.provider.check_host()
        self.provider.check_images()  # kind's upstream path: verified digests the registries agree with
        if self.settings.addon_enabled("gatekeeper"):
            self.provider.prepare_gatekeeper(self.progress)  # kwok: its manager, built once and cached
        # render everything once with a placeholder source: invalid data fails before any apply
        probe = bootstrap_values(self.settings, pins, "https://example.invalid/repo.git", "HEAD", labs=self.labs)
        expected_graph(self.settings, self.labs, [*render_bootstrap(probe), root_application(probe)], probe)

    def cluster(self) -> None:
        idp = self.provider.identity()
        if idp is not None:
            idp.launch(self.progress)  # half a minute or more: it starts while the cluster does
        elif (self.settings.raw.get("sso") or {}).get("issuer") == "local":
            self.progress(f"identity provider: runs beside kwok and kind only; on {self.provider.name} no user tokens")
        self.provider.create(self.progress)
        if idp is not None:
            idp.wait(self.progress)
            sso.Realm(idp).sync(self.labs, self.progress)
        if self.settings.addon_enabled("sealedSecrets"):
            # before Argo CD: dev's key must be the controller's when it starts, and dev's sealed
            # credentials part of the snapshot Argo CD reads
            sealkeys.prepare(self.provider, self.labs, self.progress)

    def argocd(self) -> None:
        argocd.install(self.provider, self.progress)
        if self.provider.crds_from_cache:
            # the same pinned CRDs the crds Application applies, from the Go module cache: the
            # add-ons and policies need them even where GitHub is out of reach
            crds.install(self.kubectl, self.progress)
        source = source_for(self.provider, self.progress)
        self.commit = source.commit
        api_server = kube.api_server_endpoints(self.kubectl)
        self.values = bootstrap_values(
            self.settings, load_pins(), source.url, source.revision, api_server, labs=self.labs
        )
        if (idp := self.provider.identity()) is not None:
            # Argo CD and Grafana trust dev's own identity provider: its URL and CA exist only on this machine
            self.values["sso"] = sso.argocd_values(idp)
            self.values["addonValues"] = addon_values(self.values["sso"], self.labs)
        objs = [*render_bootstrap(self.values), root_application(self.values)]
        self.graph = expected_graph(self.settings, self.labs, objs, self.values)
        self.result.graph = self.graph
        self._lab_files = None

    def default_project(self) -> None:
        self.apply_once(render_bootstrap(self.values, "appproject-default.yaml"))
        users = [n for n, a in self.applications().items() if a["spec"].get("project") == "default"]
        if users:
            raise BootstrapError(
                f"step default-project: Applications use the default project: {', '.join(users)}",
                "move them to a real project; `default` allows nothing",
            )

    def root(self) -> None:
        self.apply_once(render_bootstrap(self.values, "appproject-argocd.yaml"))
        root = root_application(self.values)
        # the root is the one object bootstrap keeps applying: it carries the settings (values)
        self.kubectl.apply_text(yaml.safe_dump(root))
        self.refresh()
        self.wait_apps([ROOT], "root Application")

    def projects(self) -> None:
        """The platform's AppProjects, which the root creates before its ApplicationSets (a lab's
        comes with its tenancy, and is checked in the last step)."""
        labs = {f"lab-{lab.name}" for lab in self.labs}
        self.wait_projects([p for p in self.graph.projects if p not in labs], "step projects")

    def wait_projects(self, expected: list[str], step: str, timeout: float = 120) -> None:
        """Wait until every named AppProject exists; raise naming the missing ones."""

        def missing() -> list[str]:
            items = self.kubectl.json("-n", "argocd", "get", "appprojects.argoproj.io")["items"]
            return sorted(set(expected) - {p["metadata"]["name"] for p in items})

        deadline = time.monotonic() + timeout
        while gone := missing():
            if time.monotonic() > deadline:
                raise BootstrapError(f"{step}: AppProjects missing after {timeout:.0f}s: {', '.join(gone)}")
            time.sleep(1)

    def platform(self) -> None:
        gatekeeper_on = self.settings.addon_enabled("gatekeeper")
        for layer in ("platform", "addons", "policies", "labs", "lab-apps"):
            if layer == "policies" and gatekeeper_on:
                self.provider.start_gatekeeper(self.progress)  # kwok: no container runs the chart's
            names = sorted(
                n
                for n, a in self.graph.applications.items()
                if a["metadata"].get("labels", {}).get("bio-gitops.io/layer") == layer
            )
            if names:
                self.wait_apps(names, f"{layer} Applications")

    def wait(self) -> None:
        names = sorted(self.graph.applications)
        self.result.states = self.wait_apps(names, "all Applications")
        self.wait_projects(self.graph.projects, "step wait")
        if self.provider.argocd_mode != "local" and (idp := self.provider.identity()) is not None:
            argocd.trust_identity_ca(self.kubectl, idp.ca_pem(), self.progress)

    # ---------------------------------------------------------------- driver
    def run(self, stop_after: str | None = None) -> Result:
        if stop_after and stop_after not in STEPS:
            raise BootstrapError(f"unknown step {stop_after!r}", f"steps: {', '.join(STEPS)}")
        try:
            for number, step in enumerate(STEPS, 1):
                self.progress(f"step {number}/{len(STEPS)}: {step}")
                start = time.monotonic()
                try:
                    getattr(self, step.replace("-", "_"))()
                except BootstrapError:
                    raise
                except BioGitopsError as err:
                    raise BootstrapError(f"step {step}: {err.message}", err.hint) from None
                self.result.timings[step] = round(time.monotonic() - start, 2)
                if step == stop_after:
                    break
        finally:
            if self.watch:
                self.watch.close()
                self.watch = None
        return self.result


def refresh_applicationsets(kubectl: Kubectl, names: list[str]) -> None:
    """Make these ApplicationSets re-run their generators now (those that exist)."""
    for appset in names:
        if kubectl.ok("-n", "argocd", "get", "applicationset", appset):
            kubectl.run(
                "-n", "argocd", "annotate", "--overwrite", "applicationset", appset,
                "argocd.argoproj.io/application-set-refresh=true",
            )  # fmt: skip


def _revisions(app: dict[str, Any]) -> list[str]:
    """The commits an Application is synced to (one per git source). A source Argo CD could not
    resolve keeps its symbolic revision (`snapshot`): that is no commit to compare with."""
    sync = (app.get("status") or {}).get("sync") or {}
    revisions = [sync.get("revision"), *(sync.get("revisions") or [])]
    return [r for r in revisions if r and re.fullmatch(r"[0-9a-f]{40}", r)]


def live_states(target: Target) -> list[tuple[str, str, str]]:
    """(name, project, state) of every Application in the target's cluster, for `invoke status`."""
    items = target.kubectl.json("-n", "argocd", "get", "applications.argoproj.io")["items"]
    return sorted((a["metadata"]["name"], a["spec"].get("project", ""), app_state(a)) for a in items)
