"""Repository rules over the rendered output of every environment (`nox -s policy`).

    python -m biogitops.checks.repo_rules                 # render every env into out/policy/, check, list problems
    python -m biogitops.checks.repo_rules --dir DIR       # check YAML files under DIR instead (DIR/<env>/<target>.yaml)

Besides the rendered output, the rules read what rendering offline may miss: every values file
we pass to a chart (values*.yaml anywhere, and every `valueFiles`/`values`/`valuesObject` of the
rendered Applications), every document inside a `kind: List` or `*List` (nested too), and the raw
text of every Helm template (branches the default values do not render).

Each finding is one line, `file: rule: Kind namespace/name: what is wrong (how to fix it)`. The rules:

  floating-tag       every image has an exact tag (not :latest, not untagged) or a well-formed digest
  image-registry     every image comes from a registry the image-signing policy allows
  plaintext-secret   no Secret with data anywhere in the repository or the rendered output
  app-project        every Application's project exists and admits its sources and destination
  default-project    no Application uses the `default` project
  namespace-netpol   every Namespace has at least one NetworkPolicy
  memory-resources   every container requests memory and has a memory limit
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from biogitops.errors import BioGitopsError
from biogitops.findings import Finding, report, shown
from biogitops.paths import REPO_ROOT

OUT = REPO_ROOT / "out" / "policy"
IMAGE_CONSTRAINT = REPO_ROOT / "policies" / "image-signing" / "samples" / "constraint.yaml"
# failing fixtures of these rules: committed on purpose, each proves its rule fires
FIXTURES = "tests/fixtures/rules/"
POD_KINDS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}


@dataclass
class Doc:
    """One rendered object and the file it is in."""

    file: str
    env: str
    obj: dict[str, Any]

    @property
    def ref(self) -> str:
        meta = self.obj.get("metadata") or {}
        ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
        return f"{self.obj.get('kind', '?')} {ns}{meta.get('name', '?')}"

    def finding(self, rule: str, message: str, fix: str = "") -> Finding:
        """A finding of `rule` on this object: `file: rule: Kind namespace/name: message (fix)`."""
        return Finding(self.file, None, rule, f"{self.ref}: {message}", fix)


DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
DIGEST_VALUE = re.compile(r"^(sha256:)?[0-9a-f]{64}$")  # a `digest:` value: an image's, or a chart archive's
TAG_KEY = re.compile(r"^(tag|.*Tag)$")
IMAGE_KEY = re.compile(r"^(image|.*Image)$")


# ------------------------------------------------------------------ helpers
def expand(obj: Any) -> Iterator[dict[str, Any]]:
    """`obj` and, for `kind: List` or any `*List` kind, every item inside it (nested Lists too);
    an item without a kind takes it from the List's (`SecretList` items are Secrets)."""
    if not isinstance(obj, dict):
        return
    kind = str(obj.get("kind") or "")
    if kind.endswith("List") and isinstance(obj.get("items"), list):
        for item in obj["items"]:
            if isinstance(item, dict) and not item.get("kind") and kind != "List":
                item = {"kind": kind.removesuffix("List"), **item}
            yield from expand(item)
        return
    yield obj


def image_problem(image: str) -> str:
    """Why `image` is not pinned ('' when it is): :latest, no tag and no digest, a malformed digest."""
    if "@" in image:
        if not DIGEST.search(image):
            return f"{image} has a malformed digest (want @sha256:<64 hex>)"
        return "the floating tag :latest" if image_tag(image) == "latest" else ""
    tag = image_tag(image)
    if tag == "latest":
        return f"{image} has the floating tag :latest"
    return "" if tag else f"{image} has no tag"


def containers(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The containers of a Pod or of a workload's pod template."""
    if obj.get("kind") not in POD_KINDS:
        return
    spec = obj.get("spec") or {}
    if obj["kind"] == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    if obj["kind"] != "Pod":
        spec = ((spec.get("template") or {}).get("spec")) or {}
    for key in ("initContainers", "containers"):
        yield from spec.get(key) or []


def images(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(where, image) for every `image`/`imageName` string anywhere in an object (containers,
    SparkApplications, CloudNativePG and RabbitMQ clusters)."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else key
            if key in ("image", "imageName") and isinstance(value, str):
                yield where, value
            else:
                yield from images(value, where)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from images(value, f"{path}[{i}]")


def image_tag(image: str) -> str:
    """The tag of an image reference ('' when it has none)."""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def canonical(image: str) -> str:
    """What the runtime pulls: docker.io/library/x for `x`, docker.io/org/x for `org/x`."""
    parts = image.split("/")
    if len(parts) == 1:
        return f"docker.io/library/{image}"
    if "." in parts[0] or ":" in parts[0] or parts[0] == "localhost":
        return image
    return f"docker.io/{image}"


def allowed_registries(path: Path = IMAGE_CONSTRAINT) -> list[str]:
    data = yaml.safe_load(path.read_text())
    return list(data["spec"]["parameters"]["registries"])


# ------------------------------------------------------------------ rules
def floating_tag(docs: list[Doc]) -> Iterator[Finding]:
    for doc in docs:
        for where, image in images(doc.obj.get("spec") or {}, "spec"):
            problem = image_problem(image)
            if problem:
                problem = problem if problem.startswith(image) else f"{image} has {problem}"
                yield doc.finding("floating-tag", f"{where}: {problem}", "pin an exact version")


def image_registry(docs: list[Doc]) -> Iterator[Finding]:
    allowed = allowed_registries()
    for doc in docs:
        for where, image in images(doc.obj.get("spec") or {}, "spec"):
            if not any(canonical(image).startswith(prefix) for prefix in allowed):
                yield doc.finding(
                    "image-registry",
                    f"{where}: {image} is not from an allowed registry",
                    f"add it to {IMAGE_CONSTRAINT.relative_to(REPO_ROOT)} if pipelines really pull from it",
                )


def plaintext_secret(docs: list[Doc]) -> Iterator[Finding]:
    for doc in docs:
        if doc.obj.get("kind") == "Secret" and (doc.obj.get("data") or doc.obj.get("stringData")):
            keys = sorted({**(doc.obj.get("data") or {}), **(doc.obj.get("stringData") or {})})
            yield doc.finding(
                "plaintext-secret",
                f"holds values ({', '.join(keys)}) in plain text",
                "seal it with `invoke secrets.seal` and commit the SealedSecret",
            )


def _sources(app: dict[str, Any]) -> list[dict[str, Any]]:
    spec = app.get("spec") or {}
    return spec.get("sources") or ([spec["source"]] if spec.get("source") else [])


def _admits_repo(project: dict[str, Any], repo: str) -> bool:
    return any(fnmatch.fnmatchcase(repo, pattern) for pattern in project["spec"].get("sourceRepos") or [])


def _admits_destination(project: dict[str, Any], dest: dict[str, Any]) -> bool:
    for allowed in project["spec"].get("destinations") or []:
        server_ok = (
            fnmatch.fnmatchcase(dest.get("server", ""), allowed.get("server", "")) if dest.get("server") else False
        ) or (fnmatch.fnmatchcase(dest.get("name", ""), allowed.get("name", "")) if dest.get("name") else False)
        if server_ok and fnmatch.fnmatchcase(dest.get("namespace", ""), allowed.get("namespace", "")):
            return True
    return False


def applications(docs: list[Doc]) -> Iterator[Doc]:
    """Each Application once per environment (render_all writes those ApplicationSets generate)."""
    seen = set()
    for doc in docs:
        key = (doc.env, doc.obj.get("metadata", {}).get("name"))
        if doc.obj.get("kind") == "Application" and key not in seen:
            seen.add(key)
            yield doc


def app_project(docs: list[Doc]) -> Iterator[Finding]:
    projects = {d.obj["metadata"]["name"]: d.obj for d in docs if d.obj.get("kind") == "AppProject"}
    for doc in applications(docs):
        name = (doc.obj.get("spec") or {}).get("project", "")
        if name == "default":
            continue  # default-project's finding
        project = projects.get(name)
        if project is None:
            yield doc.finding("app-project", f"project {name!r} is not among the rendered AppProjects")
            continue
        for source in _sources(doc.obj):
            if not _admits_repo(project, source.get("repoURL", "")):
                yield doc.finding(
                    "app-project", f"project {name} does not admit source {source.get('repoURL')} (spec.sourceRepos)"
                )
        dest = (doc.obj.get("spec") or {}).get("destination") or {}
        if not _admits_destination(project, dest):
            where = f"{dest.get('server') or dest.get('name')} namespace {dest.get('namespace')}"
            message = f"project {name} does not admit destination {where} (spec.destinations)"
            yield doc.finding("app-project", message)


def default_project(docs: list[Doc]) -> Iterator[Finding]:
    for doc in applications(docs):
        if (doc.obj.get("spec") or {}).get("project", "default") == "default":
            yield doc.finding("default-project", "uses the default project", "name its own AppProject")


def namespace_netpol(docs: list[Doc]) -> Iterator[Finding]:
    covered = {(d.env, d.obj["metadata"].get("namespace")) for d in docs if d.obj.get("kind") == "NetworkPolicy"}
    for doc in docs:
        if doc.obj.get("kind") == "Namespace" and (doc.env, doc.obj["metadata"]["name"]) not in covered:
            yield doc.finding("namespace-netpol", "no NetworkPolicy in this namespace", "start from default-deny")


def memory_resources(docs: list[Doc]) -> Iterator[Finding]:
    for doc in docs:
        for c in containers(doc.obj):
            res = c.get("resources") or {}
            missing = [f"{part}.memory" for part in ("requests", "limits") if not (res.get(part) or {}).get("memory")]
            if missing:
                yield doc.finding(
                    "memory-resources",
                    f"container {c.get('name')}: resources.{' and resources.'.join(missing)} not set",
                )


RULES: dict[str, Callable[[list[Doc]], Iterator[Finding]]] = {
    "floating-tag": floating_tag,
    "image-registry": image_registry,
    "plaintext-secret": plaintext_secret,
    "app-project": app_project,
    "default-project": default_project,
    "namespace-netpol": namespace_netpol,
    "memory-resources": memory_resources,
}


# ------------------------------------------------------------------ inputs
def load_dir(directory: Path) -> list[Doc]:
    """Objects of every YAML file under directory/<env>/...; the env is the first folder."""
    docs = []
    for path in sorted(directory.rglob("*.yaml")):
        rel = path.relative_to(directory)
        env = rel.parts[0] if len(rel.parts) > 1 else ""
        name = shown(path)
        try:
            objs = [x for o in yaml.safe_load_all(path.read_text()) for x in expand(o)]
        except yaml.YAMLError as err:
            raise BioGitopsError(f"{name}: not YAML ({str(err).splitlines()[0]})") from None
        docs += [Doc(name, env, o) for o in objs]
    return docs


def committed_files(root: Path = REPO_ROOT) -> list[Path]:
    """YAML and JSON files git knows about (tracked or not ignored), rule fixtures excluded."""
    proc = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-co", "--exclude-standard", "*.yaml", "*.yml", "*.json"],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BioGitopsError(f"git ls-files failed: {proc.stderr.strip()}")
    return [root / f for f in proc.stdout.splitlines() if not f.startswith(FIXTURES) and (root / f).is_file()]


def repository_secrets(root: Path = REPO_ROOT) -> list[Finding]:
    """plaintext-secret over every committed file that parses as YAML (templates are checked rendered)."""
    docs = []
    for path in committed_files(root):
        try:
            objs = [x for o in yaml.safe_load_all(path.read_text(errors="replace")) for x in expand(o)]
        except yaml.YAMLError:
            continue  # a Helm template: template_sources reads its raw text
        docs += [Doc(str(path.relative_to(root)), "", o) for o in objs]
    return list(plaintext_secret(docs))


# ------------------------------------------------------------------ what offline rendering may miss
def value_files(root: Path = REPO_ROOT, docs: list[Doc] | None = None) -> list[Path]:
    """Every values file we pass to a chart: committed values*.yaml, and each `valueFiles` entry of
    the rendered Applications that names a file in the repository (`$values/...` or source path)."""
    found = {p for p in committed_files(root) if re.match(r"^values([.-].*)?\.ya?ml$", p.name)}
    for doc in docs or []:
        if doc.obj.get("kind") != "Application":
            continue
        for source in _sources(doc.obj):
            for entry in (source.get("helm") or {}).get("valueFiles") or []:
                entry = str(entry)
                path = root / entry.split("/", 1)[1] if entry.startswith("$") else root / source.get("path", "") / entry
                if path.is_file() and path.resolve().is_relative_to(root.resolve()):
                    found.add(path)
    return sorted(found)


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, str, Any, dict[str, Any] | None]]:
    """(where, key, value, parent) for every key of nested maps and lists."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            yield where, str(key), value, node
            yield from _walk(value, where)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield f"{path}[{i}]", "", value, None
            yield from _walk(value, f"{path}[{i}]")


def scan_values(file: str, data: Any, what: str = "values") -> Iterator[Finding]:
    """floating-tag and plaintext-secret over one set of chart values: `tag`/`*Tag: latest`, image
    strings with :latest, no tag or a malformed digest, `digest` keys, Secrets embedded in values."""
    for where, key, value, parent in _walk(data):
        if TAG_KEY.match(key) and isinstance(value, str | int | float) and str(value).strip().lower() == "latest":
            yield Finding(file, None, "floating-tag", f"{what} {where}: {value!r} is a floating tag", "pin a version")
        elif key == "digest" and isinstance(value, str) and value and not DIGEST_VALUE.match(value):
            yield Finding(file, None, "floating-tag", f"{what} {where}: {value!r} is not sha256:<64 hex>", "fix it")
        elif IMAGE_KEY.match(key) and isinstance(value, str) and value.strip() and "{{" not in value:
            problem = image_problem(value.strip())
            # `image: repo` beside `tag:` or `digest:` is how many charts split a reference
            split = parent is not None and any(k in parent for k in ("tag", "digest", "version"))
            if problem and not (split and problem.endswith("has no tag")):
                yield Finding(file, None, "floating-tag", f"{what} {where}: {problem}", "pin an exact version")
    secrets = [(w, v) for w, _, v, _ in _walk(data) if isinstance(v, dict)]
    if isinstance(data, dict):
        secrets.insert(0, ("(top)", data))
    for where, node in secrets:
        for obj in expand(node):
            if obj.get("kind") == "Secret" and (obj.get("data") or obj.get("stringData")):
                yield Finding(
                    file,
                    None,
                    "plaintext-secret",
                    f"{what} {where}: a Secret with values in plain text",
                    "seal it with `invoke secrets.seal` and commit the SealedSecret",
                )


def values_findings(root: Path = REPO_ROOT, docs: list[Doc] | None = None) -> list[Finding]:
    """The rules over every values file we pass to a chart, and over the Applications' inline values."""
    problems: list[Finding] = []
    for path in value_files(root, docs):
        rel = str(path.relative_to(root))
        try:
            for data in yaml.safe_load_all(path.read_text(errors="replace")):
                problems += scan_values(rel, data)
        except yaml.YAMLError:
            continue  # not YAML (a values template); the render reports it
    for doc in docs or []:
        if doc.obj.get("kind") != "Application":
            continue
        for source in _sources(doc.obj):
            helm = source.get("helm") or {}
            inline = helm.get("valuesObject")
            if isinstance(helm.get("values"), str):
                try:
                    inline = yaml.safe_load(helm["values"])
                except yaml.YAMLError:
                    inline = None
            if inline:
                problems += scan_values(doc.file, inline, f"{doc.ref} helm values")
    return problems


SECRET_KIND = re.compile(r"^\s*kind:\s*[\"']?Secret(List)?[\"']?\s*$", re.M)
SECRET_DATA = re.compile(r"^\s*-?\s*(data|stringData):\s*(\S.*)?$", re.M)
TEMPLATE_LATEST = re.compile(
    r"(image:\s*[\"']?[^\s\"'{}]+:latest\b|\b(tag|\w+Tag):\s*[\"']?latest\b|default\s+\"latest\")", re.I
)


def template_sources(root: Path = REPO_ROOT) -> list[Finding]:
    """The raw text of every Helm template (`templates/*.yaml|tpl` of our charts), so that a branch
    default values do not render is read too: a Secret kind with data/stringData, an image `:latest`."""
    proc = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-co", "--exclude-standard", "*/templates/*"],
        capture_output=True,
        text=True,
    )
    problems = []
    for rel in proc.stdout.splitlines():
        path = root / rel
        if rel.startswith(FIXTURES) or not path.is_file() or path.suffix not in (".yaml", ".yml", ".tpl"):
            continue
        for i, part in enumerate(re.split(r"^---\s*$", path.read_text(errors="replace"), flags=re.M)):
            if SECRET_KIND.search(part) and SECRET_DATA.search(part):
                problems.append(
                    Finding(
                        rel,
                        None,
                        "plaintext-secret",
                        f"template document {i + 1}: writes a Secret with data/stringData (whatever the values)",
                        "template a SealedSecret instead (`invoke secrets.seal`)",
                    )
                )
            for match in TEMPLATE_LATEST.finditer(part):
                problems.append(
                    Finding(
                        rel, None, "floating-tag", f"template document {i + 1}: {match[0].strip()}", "pin a version"
                    )
                )
    return problems


def source_findings(root: Path = REPO_ROOT, docs: list[Doc] | None = None) -> list[Finding]:
    """What the rendered output may not show: values files, Lists in committed files, raw templates."""
    return values_findings(root, docs) + template_sources(root) + repository_secrets(root)


def check(docs: list[Doc], only: list[str] | None = None) -> list[Finding]:
    """The findings of every rule (or those in `only`) over `docs`."""
    problems: list[Finding] = []
    for name, rule in RULES.items():
        if only is None or name in only:
            problems += list(rule(docs))
    return problems


def render_all(out: Path = OUT) -> list[str]:
    """Render every environment (first-party and the upstream charts that can be) into out/;
    returns what was skipped and why."""
    from biogitops.config.settings import known_envs
    from biogitops.render.manifests import argo_applies
    from biogitops.render.targets import Report, targets, upstream_targets

    report = Report()
    envs = known_envs()
    rendered: dict[str, list[dict]] = {}
    for env in envs:
        rendered.update(targets(env))
        rendered[f"{env}/generated-applications"] = generated_applications(env)
    rendered.update(upstream_targets(report, envs))
    for old in out.glob("**/*.yaml"):
        old.unlink()
    for name, objs in rendered.items():
        path = out / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump_all([o for o in objs if argo_applies(o)], sort_keys=False))
    return [f"{name}: {why}" for name, why in sorted(report.skipped.items())]


def generated_applications(env: str) -> list[dict[str, Any]]:
    """The Applications the bootstrap ApplicationSets generate in `env` (as render.expected_graph
    derives them), with the placeholder source the other render targets use."""
    from biogitops.config.labs import load_labs
    from biogitops.config.pins import load_pins
    from biogitops.config.settings import load_settings
    from biogitops.render.manifests import bootstrap_values, expected_graph, render_bootstrap
    from biogitops.render.targets import PLACEHOLDER_REPO

    settings = load_settings(env)
    labs = load_labs(env)
    values = bootstrap_values(settings, load_pins(), PLACEHOLDER_REPO, settings.repo_revision, labs=labs)
    graph = expected_graph(settings, labs, render_bootstrap(values), values)
    return [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", **app} for app in graph.applications.values()]


def main(argv: list[str] | None = None) -> int:
    """`python -m biogitops.checks.repo_rules [--dir DIR] [--rule RULE]`: a line per finding; exit 1 if any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="check DIR/<env>/*.yaml instead of rendering")
    parser.add_argument("--rule", action="append", choices=sorted(RULES), help="only this rule (repeatable)")
    args = parser.parse_args(argv)
    try:
        if args.dir:
            directory = args.dir.resolve()
            problems = check(load_dir(directory), args.rule)
        else:
            for line in render_all():
                print(f"skipped {line}")
            docs = load_dir(OUT)
            problems = check(docs, args.rule)
            extra = values_findings(REPO_ROOT, docs) + template_sources(REPO_ROOT)
            problems += [p for p in extra if not args.rule or p.rule in args.rule]
            if not args.rule or "plaintext-secret" in args.rule:
                problems += repository_secrets()
    except BioGitopsError as err:
        print(f"error: {err.line()}", file=sys.stderr)
        return 1
    return report(problems, "repository rules", f"{len(set(args.rule or RULES))} of {len(RULES)} rules")


if __name__ == "__main__":
    sys.exit(main())
