"""The platform's rules for infrastructure/, checked on the HCL itself (no provider needed).

    python -m biogitops.infra.rules                    # infrastructure/: `file: rule: message` per finding
    python -m biogitops.infra.rules tests/terraform/fixtures/variable-typed

`nox -s terraform` runs these through tests/terraform/test_rules.py. Each finding names the
file and the rule; each rule has a fixture under tests/terraform/fixtures/<rule>/ that breaks it.
A tree is laid out like infrastructure/: modules/<name>/*.tf and envs/<env>/*.tf. Environment
rules compare with clusters/<env>/settings.yaml.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biogitops.config.pins import load_pins
from biogitops.config.yamlschema import load_yaml
from biogitops.errors import ConfigError
from biogitops.findings import Finding, report, shown
from biogitops.infra.hcl import Config, is_expression, load_dir, unwrap
from biogitops.infra.invariants import Invariant, Target, violations
from biogitops.infra.readmes import render as render_readme
from biogitops.paths import REPO_ROOT

INFRA_DIR = REPO_ROOT / "infrastructure"
CLUSTERS_DIR = REPO_ROOT / "clusters"

# A variable whose name ends like this has a known range (an enum, a CIDR, a version, a size),
# so it must carry a validation block. Numbers always have a range.
RANGED_NAME = re.compile(
    r"(^|_)(environment|kind|cidrs?|azs|versions?|size|count|days|gib|mode|endpoint|token|hash|arns|ports|cni|types)$"
)
EXACT_VERSION = re.compile(r"^=?\s*\d+\.\d+\.\d+$")
BOUNDED_VERSION = re.compile(r"^~>\s*\d+\.\d+(\.\d+)?$")
NODE_GROUP_SOURCE = "modules/node-group"
EKS_SOURCE = "modules/eks-cluster"
VPC_SOURCE = "modules/vpc"
MULTI_AZ = 3


@dataclass
class Tree:
    """An infrastructure tree: its modules and environments, parsed, plus the env settings."""

    root: Path
    modules: dict[str, Config]
    envs: dict[str, Config]
    clusters: Path

    def settings(self, env: str) -> dict[str, Any] | None:
        path = self.clusters / env / "settings.yaml"
        return load_yaml(path) if path.is_file() else None

    def all(self) -> Iterator[tuple[str, Config]]:
        yield from (("module", c) for c in self.modules.values())
        yield from (("env", c) for c in self.envs.values())


def load_tree(root: Path = INFRA_DIR, clusters: Path = CLUSTERS_DIR) -> Tree:
    def dirs(sub: str) -> dict[str, Config]:
        base = root / sub
        found = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
        return {p.name: load_dir(p) for p in found if any(p.glob("*.tf"))}

    return Tree(root, dirs("modules"), dirs("envs"), clusters)


def _calls(config: Config, source_suffix: str) -> list[tuple[Path, str, dict[str, Any]]]:
    """Module blocks of `config` whose source ends with `source_suffix`."""
    return [
        (path, name, body)
        for path, name, body in config.blocks("module")
        if str(body.get("source", "")).rstrip("/").endswith(source_suffix)
    ]


def _file(config: Config, name: str = "main.tf") -> Path:
    return config.directory / name


# ------------------------------------------------------------------ variables


def variable_typed(tree: Tree) -> Iterator[Finding]:
    """Every variable declares its type."""
    for _, config in tree.all():
        for path, name, body in config.blocks("variable"):
            if "type" not in body:
                yield Finding.at(path, "variable-typed", f'variable "{name}" has no type')


def variable_described(tree: Tree) -> Iterator[Finding]:
    """Every variable says what it is for."""
    for _, config in tree.all():
        for path, name, body in config.blocks("variable"):
            if not str(body.get("description", "")).strip():
                yield Finding.at(path, "variable-described", f'variable "{name}" has no description')


def variable_validated(tree: Tree) -> Iterator[Finding]:
    """A variable with a known range (numbers; names like *_cidr, *_version, environment) is validated."""
    for _, config in tree.all():
        for path, name, body in config.blocks("variable"):
            ranged = RANGED_NAME.search(name) or unwrap(body.get("type", "")) == "number"
            if ranged and not body.get("validation"):
                yield Finding.at(
                    path, "variable-validated", f'variable "{name}" has a known range but no validation block'
                )


# ------------------------------------------------------------------ pins


def _used_providers(config: Config) -> set[str]:
    used = {name.split(".")[0].split("_")[0] for kind in ("resource", "data") for _, name, _ in config.blocks(kind)}
    used |= {name for _, name, _ in config.blocks("provider")}
    return used - {"terraform"}


def provider_pinned(tree: Tree) -> Iterator[Finding]:
    """Providers have a source and a version: exact in environments (roots), `~> X.Y` at least in modules."""
    for role, config in tree.all():
        declared: dict[str, Any] = {}
        required_version = False
        for path, block in config.terraform_blocks():
            required_version |= bool(block.get("required_version"))
            for providers in block.get("required_providers", []):
                for name, spec in providers.items():
                    declared[name] = (path, spec)
        versions = _file(config, "versions.tf")
        if not required_version:
            yield Finding.at(versions, "provider-pinned", "terraform block has no required_version")
        for name in sorted(_used_providers(config) - set(declared)):
            yield Finding.at(versions, "provider-pinned", f'provider "{name}" is used but not in required_providers')
        for name, (path, spec) in sorted(declared.items()):
            if not isinstance(spec, dict) or not spec.get("source") or not spec.get("version"):
                yield Finding.at(path, "provider-pinned", f'provider "{name}" needs both source and version')
                continue
            version = str(spec["version"]).strip()
            pattern = EXACT_VERSION if role == "env" else BOUNDED_VERSION
            if not (pattern.match(version) or EXACT_VERSION.match(version)):
                want = "an exact version (X.Y.Z)" if role == "env" else "an upper bound (~> X.Y) or an exact version"
                yield Finding.at(path, "provider-pinned", f'provider "{name}" version "{version}" is not {want}')


def module_pinned(tree: Tree) -> Iterator[Finding]:
    """Registry modules at an exact version; git sources at a tag or commit; local paths as they are."""
    for _, config in tree.all():
        for path, name, body in config.blocks("module"):
            source = str(body.get("source", ""))
            if source.startswith(("./", "../")):
                continue
            if source.startswith(("git::", "github.com/", "git@")) or "://" in source:
                if not re.search(r"[?&]ref=(v?\d+\.\d+\.\d+|[0-9a-f]{40})$", source):
                    yield Finding.at(
                        path, "module-pinned", f'module "{name}" source {source} has no ?ref= tag or commit'
                    )
                continue
            version = str(body.get("version", "")).strip()
            if not EXACT_VERSION.match(version):
                yield Finding.at(
                    path, "module-pinned", f'module "{name}" ({source}) version "{version}" is not an exact X.Y.Z'
                )


# ------------------------------------------------------------------ state


def _backends(config: Config) -> list[tuple[Path, str, dict[str, Any]]]:
    return [
        (path, kind, body)
        for path, block in config.terraform_blocks()
        for backend in block.get("backend", [])
        for kind, body in backend.items()
    ]


def backend_literal(tree: Tree) -> Iterator[Finding]:
    """Backend blocks hold literals only (Terraform evaluates them before any variable exists)."""
    for _, config in tree.all():
        for path, kind, body in _backends(config):
            for key, value in body.items():
                if is_expression(value):
                    yield Finding.at(path, "backend-literal", f'backend "{kind}" {key} = {value} is an interpolation')


def backend_s3_locked(tree: Tree) -> Iterator[Finding]:
    """Every environment keeps its state in S3, encrypted, locked, under a key of its own."""
    for env, config in tree.envs.items():
        backends = _backends(config)
        if [kind for _, kind, _ in backends] != ["s3"]:
            yield Finding.at(_file(config, "backend.tf"), "backend-s3-locked", f"{env} needs exactly one backend, s3")
            continue
        path, _, body = backends[0]
        missing = [k for k in ("bucket", "key", "region") if not body.get(k)]
        if missing:
            yield Finding.at(path, "backend-s3-locked", f"backend s3 lacks {', '.join(missing)}")
        if body.get("encrypt") is not True:
            yield Finding.at(path, "backend-s3-locked", "backend s3 must set encrypt = true")
        if body.get("use_lockfile") is not True and not body.get("dynamodb_table"):
            yield Finding.at(path, "backend-s3-locked", "backend s3 has no locking (use_lockfile = true)")
        if env not in str(body.get("key", "")):
            yield Finding.at(path, "backend-s3-locked", f"state key {body.get('key')!r} does not name {env}")


# ------------------------------------------------------------------ the platform's contract


def _node_kinds(tree: Tree) -> tuple[Path, dict[str, Any]] | None:
    config = tree.modules.get("node-group")
    if config is None:
        return None
    for path, block in config.locals():
        if "kinds" in block:
            return path, block["kinds"]
    return _file(config), {}


def _taint_set(taints: Any) -> set[tuple[str, str, str]]:
    return {(t.get("key", ""), str(t.get("value", "")), t.get("effect", "")) for t in taints or []}


def node_group_labels(tree: Tree) -> Iterator[Finding]:
    """Node kinds carry exactly the labels and taints of nodeGroups in every env's settings.yaml."""
    found = _node_kinds(tree)
    if found is None:
        return
    path, kinds = found
    for env in sorted(p.name for p in tree.clusters.iterdir() if (p / "settings.yaml").is_file()):
        groups = (tree.settings(env) or {}).get("nodeGroups") or {}
        for group, spec in groups.items():
            kind = kinds.get(group)
            if kind is None:
                yield Finding.at(path, "node-group-labels", f"no node kind {group!r} (nodeGroups in clusters/{env})")
                continue
            settings_file = f"clusters/{env}/settings.yaml"
            if (kind.get("labels") or {}) != (spec.get("labels") or {}):
                message = f"{group} labels {kind.get('labels')} differ from {settings_file} {spec.get('labels')}"
                yield Finding.at(path, "node-group-labels", message)
            if _taint_set(kind.get("taints")) != _taint_set(spec.get("taints")):
                message = f"{group} taints {kind.get('taints')} differ from {settings_file} {spec.get('taints')}"
                yield Finding.at(path, "node-group-labels", message)


def _created_kinds(config: Config) -> set[str]:
    """Node kinds an environment creates: literal `kind`s, or the keys of the local map a for_each walks."""
    local_maps = {name: value for _, block in config.locals() for name, value in block.items()}
    kinds: set[str] = set()
    for _, _, body in _calls(config, NODE_GROUP_SOURCE):
        kind, each = body.get("kind"), unwrap(body.get("for_each", ""))
        if kind == "${each.key}" and each.startswith("local.") and isinstance(local_maps.get(each[6:]), dict):
            kinds |= set(local_maps[each[6:]])
        else:
            kinds.add(str(kind))
    return kinds


def env_node_groups(tree: Tree) -> Iterator[Finding]:
    """Each environment creates one node group per entry of its settings' nodeGroups, and no other."""
    for env, config in tree.envs.items():
        settings = tree.settings(env)
        if settings is None:
            yield Finding.at(_file(config), "env-node-groups", f"no clusters/{env}/settings.yaml for this environment")
            continue
        wanted = set((settings.get("nodeGroups") or {}).keys())
        have = _created_kinds(config)
        if have != wanted:
            yield Finding.at(
                _file(config),
                "env-node-groups",
                f"node groups {sorted(have)} differ from nodeGroups {sorted(wanted)} in clusters/{env}/settings.yaml",
            )


def cluster_secret_labels(tree: Tree) -> Iterator[Finding]:
    """The Argo CD cluster Secret names the env's own environment and exactly its settings' add-ons."""
    for env, config in tree.envs.items():
        settings = tree.settings(env) or {}
        addons = {
            name: bool((spec or {}).get("enabled", False)) for name, spec in (settings.get("addons") or {}).items()
        }
        for path, name, body in _calls(config, EKS_SOURCE):
            if body.get("environment") != env:
                yield Finding.at(path, "cluster-secret-labels", f'module "{name}" environment is not "{env}"')
            if body.get("gitops_addons") != addons:
                yield Finding.at(
                    path,
                    "cluster-secret-labels",
                    f'module "{name}" gitops_addons {body.get("gitops_addons")} differ from addons in '
                    f"clusters/{env}/settings.yaml {addons}",
                )


def env_sso_issuer(tree: Tree) -> Iterator[Finding]:
    """The API server trusts the issuer Argo CD signs in through: an env whose settings.yaml names an
    https `sso.issuer` passes it and its clientID to the EKS module, literally."""
    for env, config in tree.envs.items():
        sso = (tree.settings(env) or {}).get("sso") or {}
        issuer = sso.get("issuer")
        if not issuer or issuer == "local":
            continue
        for path, name, body in _calls(config, EKS_SOURCE):
            have = (body.get("sso_issuer_url"), body.get("sso_client_id"))
            if have != (issuer, sso.get("clientID")):
                yield Finding.at(
                    path,
                    "env-sso-issuer",
                    f'module "{name}" sso_issuer_url/sso_client_id {have} differ from sso in '
                    f"clusters/{env}/settings.yaml {(issuer, sso.get('clientID'))}",
                    fix="copy sso.issuer and sso.clientID from settings.yaml into the module call",
                )


def _required_call(config: Config, source: str, rule: str) -> Iterator[Finding]:
    if not _calls(config, source):
        yield Finding.at(_file(config), rule, f"{config.directory.name} does not call {source}")


def prod_private_endpoint(tree: Tree) -> Iterator[Finding]:
    """prod's API server has no public endpoint: set literally at prod's call (so a review sees it),
    and false wherever the module tree sets it, followed from prod (a hard-coded true inside a module)."""
    yield from _invariant_rule("prod-private-endpoint")(tree)
    config = tree.envs.get("prod")
    if config is None:
        return
    yield from _required_call(config, EKS_SOURCE, "prod-private-endpoint")
    for path, name, body in _calls(config, EKS_SOURCE):
        if body.get("endpoint_public_access") is not False:
            yield Finding.at(
                path,
                "prod-private-endpoint",
                f'module "{name}" must set endpoint_public_access = false, has {body.get("endpoint_public_access")}',
            )


# ------------------------------------------------------------------ invariants anywhere in the module tree

# the upstream EKS module itself, not its sub-modules (//modules/eks-managed-node-group)
EKS_MODULE = Target("module", "terraform-aws-modules/eks/aws", when=lambda b: "//" not in str(b.get("source", "")))
NODE_GROUP_MODULES = (
    Target("module", "//modules/eks-managed-node-group"),
    Target("module", "//modules/self-managed-node-group"),
)
# instances whose metadata service a pod could reach; what they run or join is a node
INSTANCES = (*NODE_GROUP_MODULES, Target("resource", "aws_launch_template"), Target("resource", "aws_instance"))
# EKS add-ons that call AWS APIs: each gets its own Pod Identity role, never the node role's
AWS_ADDONS = (
    "aws-ebs-csi-driver",
    "aws-efs-csi-driver",
    "aws-mountpoint-s3-csi-driver",
    "amazon-cloudwatch-observability",
    "adot",
)
# policies that an add-on needs; on a node role every pod of the node would hold them
ADDON_POLICIES = re.compile(r"AmazonEBSCSIDriverPolicy|AmazonEFSCSIDriverPolicy|AmazonS3|CloudWatchAgentServerPolicy")


def _addon(name: str) -> Target:
    return Target("resource", "aws_eks_addon", when=lambda b: b.get("addon_name") == name)


def _pod_identity(addon: Any) -> bool:
    return (
        isinstance(addon, dict)
        and bool(addon.get("pod_identity_association"))
        and not addon.get("service_account_role_arn")
    )


def _no_addon_policy(policies: Any) -> bool:
    values = policies.values() if isinstance(policies, dict) else policies if isinstance(policies, list) else [policies]
    return not any(ADDON_POLICIES.search(str(v)) for v in values)


CNI_POLICY = (
    "the vpc-cni add-on must enforce NetworkPolicies: "
    'configuration_values = jsonencode({ enableNetworkPolicy = "true" })'
)

INVARIANTS: dict[str, tuple[Invariant, ...]] = {
    "prod-private-endpoint": tuple(
        Invariant(
            "prod-private-endpoint",
            (target,),
            path,
            lambda v: v is False,
            "prod's API endpoint must be private (false)",
            envs=("prod",),
        )
        for target, path in (
            (EKS_MODULE, ("endpoint_public_access",)),
            (Target("resource", "aws_eks_cluster"), ("vpc_config", "endpoint_public_access")),
        )
    ),
    "vpc-cni-network-policy": (
        Invariant(
            "vpc-cni-network-policy",
            (EKS_MODULE,),
            ("addons", "vpc-cni", "configuration_values", "enableNetworkPolicy"),
            lambda v: v == "true",
            CNI_POLICY,
        ),
        Invariant(
            "vpc-cni-network-policy",
            (_addon("vpc-cni"),),
            ("configuration_values", "enableNetworkPolicy"),
            lambda v: v == "true",
            CNI_POLICY,
        ),
    ),
    "node-metadata-hop-limit": (
        Invariant(
            "node-metadata-hop-limit",
            INSTANCES,
            ("metadata_options", "http_put_response_hop_limit"),
            lambda v: v == 1,
            "must be 1, so that pods cannot reach the node role's credentials (add-ons use Pod Identity)",
        ),
        Invariant(
            "node-metadata-hop-limit",
            INSTANCES,
            ("metadata_options", "http_tokens"),
            lambda v: v == "required",
            'must be "required" (IMDSv2 only)',
        ),
        Invariant(
            "node-metadata-hop-limit",
            (Target("module", "//modules/eks-managed-node-group"),),
            ("use_custom_launch_template",),
            lambda v: v is not False,
            "must not be false: EKS's own launch template has hop limit 2",
            required=False,
        ),
        Invariant(
            "node-metadata-hop-limit",
            (Target("resource", "aws_eks_node_group"),),
            ("launch_template",),
            lambda v: bool(v),
            "a node group needs a launch template with hop limit 1 (EKS's own has 2)",
        ),
    ),
    "addon-pod-identity": (
        Invariant(
            "addon-pod-identity",
            (EKS_MODULE,),
            ("addons", "eks-pod-identity-agent"),
            lambda v: isinstance(v, dict),
            "the eks-pod-identity-agent add-on must be installed (add-ons get AWS credentials through it)",
        ),
        *(
            Invariant(
                "addon-pod-identity",
                (EKS_MODULE,),
                ("addons", name),
                _pod_identity,
                f"{name} must get AWS credentials from a pod_identity_association (no IRSA role, no node role)",
                required=False,
            )
            for name in AWS_ADDONS
        ),
        *(
            Invariant(
                "addon-pod-identity",
                (_addon(name),),
                ("pod_identity_association",),
                lambda v: bool(v),
                f"{name} must get AWS credentials from a pod_identity_association",
            )
            for name in AWS_ADDONS
        ),
        Invariant(
            "addon-pod-identity",
            NODE_GROUP_MODULES,
            ("iam_role_additional_policies",),
            _no_addon_policy,
            "add-on policies belong to the add-on's Pod Identity role, not to the node role",
            required=False,
        ),
    ),
}


def _invariant_rule(rule: str) -> Callable[[Tree], Iterator[Finding]]:
    def check_rule(tree: Tree) -> Iterator[Finding]:
        for invariant in INVARIANTS[rule]:
            for path, message in violations(tree, invariant):
                yield Finding.at(path, rule, message)

    check_rule.__doc__ = (
        f"{rule}: checked wherever the attribute is set in the module tree (biogitops/infra/invariants.py)"
    )
    return check_rule


def prod_multi_az(tree: Tree) -> Iterator[Finding]:
    """prod spreads subnets and NAT over at least three zones, and its node groups over all private subnets."""
    config = tree.envs.get("prod")
    if config is None:
        return
    yield from _required_call(config, VPC_SOURCE, "prod-multi-az")
    for path, name, body in _calls(config, VPC_SOURCE):
        azs = body.get("azs")
        if not isinstance(azs, list) or len(set(azs)) < MULTI_AZ:
            yield Finding.at(
                path, "prod-multi-az", f'module "{name}" azs {azs} are fewer than {MULTI_AZ} distinct zones'
            )
        if body.get("nat_gateway_per_az") is not True:
            yield Finding.at(path, "prod-multi-az", f'module "{name}" must set nat_gateway_per_az = true')
    for path, name, body in _calls(config, NODE_GROUP_SOURCE) + _calls(config, EKS_SOURCE):
        if "private_subnet_ids" not in str(body.get("subnet_ids", "")):
            yield Finding.at(path, "prod-multi-az", f'module "{name}" subnet_ids are not the vpc\'s private_subnet_ids')


def kms_encryption(tree: Tree) -> Iterator[Finding]:
    """Secrets, flow logs, shared storage and node disks are encrypted; KMS keys rotate."""
    for _, config in tree.all():
        for path, name, body in config.blocks("resource"):
            if name.startswith("aws_kms_key.") and body.get("enable_key_rotation") is not True:
                yield Finding.at(path, "kms-encryption", f"{name} has no enable_key_rotation = true")
            if name.startswith("aws_efs_file_system.") and not (
                body.get("encrypted") is True and body.get("kms_key_id")
            ):
                yield Finding.at(path, "kms-encryption", f"{name} must be encrypted with a KMS key (kms_key_id)")
        for path, name, body in config.blocks("module"):
            source = str(body.get("source", ""))
            if source.startswith("terraform-aws-modules/eks/aws") and "//" not in source:
                resources = (body.get("encryption_config") or {}).get("resources") or []
                key = body.get("create_kms_key") is True or (body.get("encryption_config") or {}).get(
                    "provider_key_arn"
                )
                if "secrets" not in resources or not key:
                    yield Finding.at(path, "kms-encryption", f'module "{name}" does not encrypt secrets with a KMS key')
            flow_logs = source.startswith("terraform-aws-modules/vpc/aws") and body.get("enable_flow_log") is True
            if flow_logs and not body.get("flow_log_cloudwatch_log_group_kms_key_id"):
                yield Finding.at(path, "kms-encryption", f'module "{name}" flow logs are not KMS-encrypted')
            if "eks-managed-node-group" in source:
                disks = [m.get("ebs", {}) for m in (body.get("block_device_mappings") or {}).values()]
                if not disks or any(d.get("encrypted") is not True for d in disks):
                    yield Finding.at(path, "kms-encryption", f'module "{name}" node disks are not encrypted')


def kubernetes_version(tree: Tree) -> Iterator[Finding]:
    """Each environment runs the Kubernetes minor of pins.yaml (kubectl, kwok and the schemas use it)."""
    pinned = ".".join(load_pins().kubernetes_version.split(".")[:2])
    for config in tree.envs.values():
        versions = [
            (path, block["kubernetes_version"]) for path, block in config.locals() if "kubernetes_version" in block
        ]
        if not versions:
            yield Finding.at(_file(config), "kubernetes-version", "no local kubernetes_version")
        for path, version in versions:
            if version != pinned:
                yield Finding.at(
                    path, "kubernetes-version", f"kubernetes_version {version} is not {pinned} (pins.yaml)"
                )


def readme_fresh(tree: Tree) -> Iterator[Finding]:
    """Each module's README lists its current inputs and outputs (`invoke infra.docs` rewrites them)."""
    for config in tree.modules.values():
        readme = config.directory / "README.md"
        if not readme.is_file() or readme.read_text() != render_readme(config.directory):
            yield Finding.at(readme, "readme-fresh", "inputs/outputs are stale", fix="run `invoke infra.docs`")


Rule = Callable[[Tree], Iterator[Finding]]
RULES: dict[str, Rule] = {
    "variable-typed": variable_typed,
    "variable-described": variable_described,
    "variable-validated": variable_validated,
    "provider-pinned": provider_pinned,
    "module-pinned": module_pinned,
    "backend-literal": backend_literal,
    "backend-s3-locked": backend_s3_locked,
    "node-group-labels": node_group_labels,
    "env-node-groups": env_node_groups,
    "cluster-secret-labels": cluster_secret_labels,
    "env-sso-issuer": env_sso_issuer,
    "prod-private-endpoint": prod_private_endpoint,
    "prod-multi-az": prod_multi_az,
    "vpc-cni-network-policy": _invariant_rule("vpc-cni-network-policy"),
    "node-metadata-hop-limit": _invariant_rule("node-metadata-hop-limit"),
    "addon-pod-identity": _invariant_rule("addon-pod-identity"),
    "kms-encryption": kms_encryption,
    "kubernetes-version": kubernetes_version,
    "readme-fresh": readme_fresh,
}


def check(root: Path = INFRA_DIR, clusters: Path = CLUSTERS_DIR) -> list[Finding]:
    """Every finding of every rule over the tree at `root`; a file that does not parse is one finding."""
    try:
        tree = load_tree(root, clusters)
    except ConfigError as err:
        return [Finding.at(root, "hcl-parse", err.line())]
    return [finding for rule in RULES.values() for finding in rule(tree)]


def main(argv: list[str]) -> int:
    """`python -m biogitops.infra.rules [DIR]`: a line per finding over DIR (infrastructure/); exit 1 if any."""
    root = Path(argv[0]).resolve() if argv else INFRA_DIR
    return report(check(root), "terraform rules", f"{len(RULES)} rules over {shown(root)}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
