"""Sealing credentials: values never on a command line or in output, certificates checked to be
the environment's, SealedSecrets checked against their folder, temporary files gone on a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from biogitops.cluster.kwok import sealedsecrets
from biogitops.errors import BioGitopsError, ConfigError
from biogitops.paths import REPO_ROOT
from biogitops.platform import gitsource, sealkeys
from biogitops.render import sealing

SECRET_VALUE = "s3cr3t-Value-that-must-never-leak-7f3a"

FAKE_KUBESEAL = textwrap.dedent(
    """\
    #!{python}
    # a stand-in for kubeseal: records its argv, reads the Secret on stdin, seals nothing
    import hashlib, json, os, sys, time, yaml
    if sys.argv[1:] == ["--version"]:
        print("kubeseal version: v0.27.1"); sys.exit(0)
    with open(os.environ["FAKE_KUBESEAL_LOG"], "a") as log:
        log.write(json.dumps(sys.argv) + "\\n")
    secret = yaml.safe_load(sys.stdin.read())
    time.sleep(float(os.environ.get("FAKE_KUBESEAL_SLEEP", "0")))
    meta = secret["metadata"]
    print(yaml.safe_dump({{
        "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "metadata": {{"name": meta["name"], "namespace": meta["namespace"], "creationTimestamp": None}},
        "spec": {{"encryptedData": {{k: hashlib.sha256(v.encode()).hexdigest() for k, v in secret["data"].items()}},
                  "template": {{"metadata": {{"name": meta["name"], "namespace": meta["namespace"]}},
                               "type": secret["type"]}}}},
    }}))
    """
)


@pytest.fixture
def secrets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """secrets/<env>/ in a temporary directory, so tests never touch the repository's certificates."""
    root = tmp_path / "secrets"
    monkeypatch.setattr(sealing, "SECRETS", root)
    return root


@pytest.fixture
def fake_kubeseal(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A recording kubeseal in the (temporary) tool cache; returns its argv log."""
    bindir = cache / "tools" / "bin"
    bindir.mkdir(parents=True)
    binary = bindir / "kubeseal"
    binary.write_text(FAKE_KUBESEAL.format(python=sys.executable))
    binary.chmod(0o755)
    log = tmp_path / "kubeseal-argv.log"
    monkeypatch.setenv("FAKE_KUBESEAL_LOG", str(log))
    from biogitops.toolchain import tools

    monkeypatch.setattr(tools, "_VERIFIED", {})
    return log


def _cert(env: str, directory: Path, bits: int = 2048) -> Path:
    pair = sealing.generate_key_pair(env, directory, bits=bits)
    return pair.cert


def _install_cert(env: str, secrets_dir: Path, tmp_path: Path) -> Path:
    path = secrets_dir / env / "cert.pem"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_cert(env, tmp_path / f"key-{env}").read_bytes())
    return path


# ---------------------------------------------------------------- certificates


def test_certificate_of_another_environment_is_refused(secrets_dir: Path, tmp_path: Path) -> None:
    path = secrets_dir / "staging" / "cert.pem"
    path.parent.mkdir(parents=True)
    path.write_bytes(_cert("dev", tmp_path / "k").read_bytes())
    with pytest.raises(ConfigError, match=r"staging/cert.pem: certificate is for environment 'dev', not 'staging'"):
        sealing.env_cert("staging")


def test_certificate_without_an_environment_is_refused(secrets_dir: Path, tmp_path: Path) -> None:
    pair = sealing.generate_key_pair("dev", tmp_path / "k", bits=2048)
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    other = cert.subject.rfc4514_string().replace("bio-gitops-dev", "sealed-secret")
    assert other != cert.subject.rfc4514_string()
    with pytest.raises(ConfigError, match="not 'prod'"):
        sealing.check_cert("prod", Path("secrets/prod/cert.pem"), cert)


def test_same_certificate_in_two_environments_is_refused(secrets_dir: Path, tmp_path: Path) -> None:
    staging = _install_cert("staging", secrets_dir, tmp_path)
    prod = secrets_dir / "prod" / "cert.pem"
    prod.parent.mkdir(parents=True)
    prod.write_bytes(staging.read_bytes())
    cert = sealing.load_cert(staging)
    with pytest.raises(ConfigError, match=r"same certificate as .*prod/cert.pem"):
        sealing.check_cert("staging", staging, cert)


def test_missing_certificate_says_how_to_fetch_it(secrets_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"staging/cert.pem: missing.*invoke secrets.fetch-cert --env staging"):
        sealing.env_cert("staging")


def test_not_a_certificate_is_refused(secrets_dir: Path) -> None:
    path = secrets_dir / "prod" / "cert.pem"
    path.parent.mkdir(parents=True)
    path.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match=r"prod/cert.pem: not a PEM certificate"):
        sealing.env_cert("prod")


def test_dev_key_is_generated_once_outside_the_repository(cache: Path, secrets_dir: Path) -> None:
    first = sealing.ensure_dev_key(lambda _: None)
    assert first.key.is_relative_to(cache) and not first.key.is_relative_to(REPO_ROOT)
    assert oct(first.key.stat().st_mode & 0o777) == "0o600"
    key_bytes = first.key.read_bytes()
    second = sealing.ensure_dev_key(lambda _: None)
    assert second.key.read_bytes() == key_bytes
    assert (secrets_dir / "dev" / "cert.pem").read_bytes() == first.cert.read_bytes()
    assert sealing.cert_env(sealing.load_cert(first.cert)) == "dev"


def test_key_secret_is_what_the_controller_looks_for(cache: Path, secrets_dir: Path) -> None:
    pair = sealing.ensure_dev_key(lambda _: None)
    obj = sealing.key_secret(pair, "k")
    assert obj["type"] == "kubernetes.io/tls"
    assert obj["metadata"]["namespace"] == "sealed-secrets"
    assert obj["metadata"]["labels"] == {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}
    assert set(obj["data"]) == {"tls.crt", "tls.key"}


# ---------------------------------------------------------------- values never on a command line


@pytest.mark.parametrize("flag", ["value", "literal", "from_literal"])
def test_value_flags_are_refused(flag: str) -> None:
    with pytest.raises(ConfigError, match=f"--{flag.replace('_', '-')}: secret values are not accepted"):
        sealing.refuse_command_line_value(**{flag: SECRET_VALUE})


def test_key_with_a_value_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as err:
        sealing.check_keys(["username", f"password={SECRET_VALUE}"])
    assert "password" in str(err.value)
    assert SECRET_VALUE not in str(err.value)


def _invoke(*args: str, env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_invoke_seal_refuses_a_value_flag_and_writes_nothing(tmp_path: Path, cache: Path) -> None:
    out = tmp_path / "sealed.yaml"
    proc = _invoke(
        "secrets.seal", "--env", "dev", "--namespace", "lab-x", "--name", "db",
        "--from-literal", SECRET_VALUE, "--out", str(out), env=dict(os.environ),
    )  # fmt: skip
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "--from-literal: secret values are not accepted on the command line" in stderr
    assert SECRET_VALUE not in stdout + stderr
    assert not out.exists()


def _process_tree(root: int) -> set[int]:
    """`root` and every process descending from it, from /proc/<pid>/stat's parent ids."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree = {root}
    grew = True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    return tree


def test_sealed_value_never_appears_in_arguments_or_output(
    tmp_path: Path, cache: Path, secrets_dir: Path, fake_kubeseal: Path
) -> None:
    """The whole path, `invoke secrets.seal --from-file`: while it runs, no process on the
    machine has the value in its command line; afterwards it is in no output or log."""
    values = tmp_path / "values.yaml"
    values.write_text(f"password: {SECRET_VALUE}\n")
    out = tmp_path / "sealed.yaml"
    env = dict(os.environ, BIOGITOPS_CACHE=str(cache), FAKE_KUBESEAL_SLEEP="2")
    proc = _invoke(
        "secrets.seal", "--env", "dev", "--namespace", "lab-x", "--name", "db",
        "--from-file", str(values), "--out", str(out), env=env,
    )  # fmt: skip
    seen_kubeseal = False
    leaks = []
    while proc.poll() is None:
        # only this invocation's process tree: a test run beside this one may have the value in
        # an argv on purpose (the refusal test above)
        for pid in _process_tree(proc.pid):
            cmdline = Path("/proc") / str(pid) / "cmdline"
            try:
                argv = cmdline.read_bytes().split(b"\0")
            except OSError:
                continue
            seen_kubeseal |= any(a.endswith(b"/kubeseal") for a in argv[:2])
            if any(SECRET_VALUE.encode() in a for a in argv):
                leaks.append(cmdline.parent.name)
        time.sleep(0.05)
    stdout, stderr = proc.communicate()
    assert proc.returncode == 0, stderr
    assert seen_kubeseal, "kubeseal was never seen running"
    assert leaks == []
    assert SECRET_VALUE not in stdout + stderr
    recorded = fake_kubeseal.read_text()
    assert "--cert" in recorded and "strict" in recorded
    assert SECRET_VALUE not in recorded
    sealed = yaml.safe_load(out.read_text())
    assert SECRET_VALUE not in out.read_text()
    assert sealed["metadata"]["annotations"][sealing.SEALED_WITH].startswith("sha256:")
    assert "creationTimestamp" not in sealed["metadata"]


def test_interrupted_seal_leaves_no_file(tmp_path: Path, cache: Path, fake_kubeseal: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(f"password: {SECRET_VALUE}\n")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = dict(os.environ, BIOGITOPS_CACHE=str(cache), FAKE_KUBESEAL_SLEEP="30")
    proc = _invoke(
        "secrets.seal", "--env", "dev", "--namespace", "lab-x", "--name", "db",
        "--from-file", str(values), "--out", str(out_dir / "sealed.yaml"), env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (fake_kubeseal.is_file() and fake_kubeseal.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "interrupted" in stderr
    assert SECRET_VALUE not in stdout + stderr
    assert list(out_dir.iterdir()) == []


def test_signal_during_write_removes_the_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "sealedsecret.yaml"
    target.write_text("old\n")

    def replace_then_signal(src: str, dst: str) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(sealing.os, "replace", replace_then_signal)
    with pytest.raises(sealing.Interrupted, match="SIGTERM"):
        sealing.write_atomically(target, "new\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sealedsecret.yaml"]
    assert target.read_text() == "old\n"


def test_values_file_must_be_a_mapping_of_strings(tmp_path: Path) -> None:
    bad = tmp_path / "v.yaml"
    bad.write_text("password: [a, b]\n")
    with pytest.raises(ConfigError, match=r"v.yaml: password: value must be a string"):
        sealing.read_values_file(bad)
    bad.write_text("- a\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        sealing.read_values_file(bad)


# ---------------------------------------------------------------- SealedSecrets in the repository


def _sealed(namespace: str, fp: str | None, scope: dict | None = None) -> dict:
    meta: dict = {"name": "galaxy-db", "namespace": namespace}
    if fp:
        meta["annotations"] = {sealing.SEALED_WITH: fp}
    return {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": meta,
        "spec": {"encryptedData": {"password": "AgB"}, "template": {"metadata": {"annotations": scope or {}}}},
    }


def _write(path: Path, obj: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(obj))
    return path


def test_sealed_secret_in_another_namespaces_folder_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "sealed/staging/lab-b/sealedsecret-galaxy-db.yaml", _sealed("lab-a", "sha256:1"))
    with pytest.raises(ConfigError, match=r"lab-b/sealedsecret-galaxy-db.yaml: SealedSecret lab-a/galaxy-db is sealed"):
        sealing.check_sealed_file("staging", path, "sha256:1")


def test_sealed_secret_not_strictly_scoped_is_refused(tmp_path: Path) -> None:
    scope = {"sealedsecrets.bitnami.com/cluster-wide": "true"}
    path = _write(tmp_path / "sealed/staging/lab-a/s.yaml", _sealed("lab-a", "sha256:1", scope))
    with pytest.raises(ConfigError, match="not strictly scoped"):
        sealing.check_sealed_file("staging", path, "sha256:1")


def test_sealed_secret_of_another_environment_is_refused(tmp_path: Path, secrets_dir: Path) -> None:
    dev = _install_cert("dev", secrets_dir, tmp_path)
    _install_cert("staging", secrets_dir, tmp_path)
    dev_fp = sealing.fingerprint(sealing.load_cert(dev))
    path = _write(tmp_path / "sealed/staging/lab-a/s.yaml", _sealed("lab-a", dev_fp))
    staging_fp = sealing.fingerprint(sealing.env_cert("staging")[1])
    with pytest.raises(ConfigError, match=r"s.yaml: SealedSecret lab-a/galaxy-db was sealed with dev's certificate"):
        sealing.check_sealed_file("staging", path, staging_fp)


def test_matching_sealed_secret_passes(tmp_path: Path) -> None:
    path = _write(tmp_path / "sealed/staging/lab-a/s.yaml", _sealed("lab-a", "sha256:1"))
    sealing.check_sealed_file("staging", path, "sha256:1")


def test_repository_sealed_secrets_are_consistent() -> None:
    """What is committed (and dev's, when this machine sealed some) passes its own check."""
    for env in ("staging", "prod"):
        assert sealing.check_sealed(env) == len(sealing.sealed_files(env))
    sealing.check_sealed("dev", check_cert=False)


def test_app_credentials_fill_fixed_and_random_values() -> None:
    spec = sealing.app_credentials("galaxy")
    assert set(spec) == {"galaxy-db", "galaxy-admin"}
    assert spec["galaxy-db"]["type"] == "kubernetes.io/basic-auth"
    one = sealing.generate_values(spec["galaxy-admin"], "genomics")
    two = sealing.generate_values(spec["galaxy-admin"], "genomics")
    assert "genomics" in one["email"]
    assert one["api-key"] != two["api-key"] and len(one["api-key"]) >= 32


# ---------------------------------------------------------------- the dev snapshot and the controller build


def test_snapshot_carries_ignored_dev_credentials(tmp_path: Path) -> None:
    src = tmp_path / "src"
    sealed = src / "applications/galaxy/extras/sealed/dev/lab-a/sealedsecret-galaxy-db.yaml"
    sealed.parent.mkdir(parents=True)
    sealed.write_text("kind: SealedSecret\n")
    (src / ".gitignore").write_text("/applications/*/extras/sealed/dev/\n")
    (src / "other.txt").write_text("x\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", "-C", str(src)]
    subprocess.run([*git, "init", "-q"], check=True)
    commit = gitsource.snapshot(tmp_path / "bare.git", src)
    files = subprocess.run(
        ["git", "-C", str(tmp_path / "bare.git"), "ls-tree", "-r", "--name-only", commit],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert "applications/galaxy/extras/sealed/dev/lab-a/sealedsecret-galaxy-db.yaml" in files
    status = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True, check=True).stdout
    assert "other.txt" in status and "sealed" not in status  # still ignored in the checkout


def test_controller_patch_swaps_in_cluster_config_for_kubeconfig() -> None:
    text = 'import (\n\t"k8s.io/client-go/rest"\n)\nfunc Main() {\n\tconfig, err := rest.InClusterConfig()\n}\n'
    patched = sealedsecrets.kubeconfig_patch(text)
    assert 'clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))' in patched
    assert '"k8s.io/client-go/tools/clientcmd"' in patched and "rest." not in patched
    with pytest.raises(BioGitopsError, match="no longer calls rest.InClusterConfig"):
        sealedsecrets.kubeconfig_patch(text.replace("rest.InClusterConfig()", "other()"))


def test_controller_is_built_from_kubeseals_module_and_version() -> None:
    from biogitops.config.pins import load_pins

    kubeseal = load_pins().tool("kubeseal")
    pin = sealedsecrets.controller_pin()
    assert (pin.module, pin.version, pin.package) == (kubeseal.module, kubeseal.version, "cmd/controller")


def test_backup_refuses_a_path_inside_the_repository(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="inside the repository"):
        sealkeys.check_backup_path(REPO_ROOT / "secrets" / "keys.yaml")
    assert sealkeys.check_backup_path(tmp_path / "keys.yaml") == tmp_path / "keys.yaml"


def test_restore_refuses_what_is_not_a_sealing_key(tmp_path: Path) -> None:
    bad = tmp_path / "b.yaml"
    item = {"kind": "Secret", "type": "Opaque", "metadata": {"name": "x"}, "data": {}}
    bad.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [item]}))
    with pytest.raises(ConfigError, match=r"b.yaml: x: not a kubernetes.io/tls Secret"):
        sealkeys.read_backup(bad)
    item.update(type="kubernetes.io/tls", data={"tls.crt": "", "tls.key": ""})
    bad.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [item]}))
    with pytest.raises(ConfigError, match="not a sealing key"):
        sealkeys.read_backup(bad)


def test_real_kubeseal_seals_for_one_namespace_only(
    tmp_path: Path, secrets_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the pinned kubeseal: the dev key opens what was sealed for lab-a, and nothing once
    the SealedSecret is moved to lab-b (strict scope binds namespace and name)."""
    from biogitops.toolchain import tools

    try:
        kubeseal = tools.which("kubeseal")
    except BioGitopsError as err:
        pytest.skip(f"kubeseal not installed: {err.line()}")
    monkeypatch.setattr(sealing, "dev_key_dir", lambda: tmp_path / "dev-key")  # the tool cache stays real
    sealed = sealing.seal("dev", "lab-a", "db", {"password": SECRET_VALUE})
    assert SECRET_VALUE not in yaml.safe_dump(sealed)
    key = sealing.ensure_dev_key(lambda _: None).key

    def unseal(obj: dict) -> subprocess.CompletedProcess:
        cmd = [str(kubeseal), "--recovery-unseal", "--recovery-private-key", str(key), "-o", "yaml"]
        env = dict(os.environ, KUBECONFIG=os.devnull)
        return subprocess.run(cmd, input=yaml.safe_dump(obj), capture_output=True, text=True, env=env)

    opened = unseal(sealed)
    assert opened.returncode == 0, opened.stderr
    import base64

    assert base64.b64decode(yaml.safe_load(opened.stdout)["data"]["password"]).decode() == SECRET_VALUE
    sealed["metadata"]["namespace"] = "lab-b"
    moved = unseal(sealed)
    assert moved.returncode != 0
    assert "decrypt" in moved.stderr


def test_fetched_certificate_of_another_environment_is_not_written(secrets_dir: Path, tmp_path: Path) -> None:
    pem = _cert("dev", tmp_path / "k").read_bytes()
    with pytest.raises(ConfigError, match=r"staging/cert.pem: certificate is for environment 'dev'"):
        sealkeys.write_cert("staging", pem)
    assert not (secrets_dir / "staging").exists() or list((secrets_dir / "staging").iterdir()) == []
    good = _cert("staging", tmp_path / "s").read_bytes()
    assert sealkeys.write_cert("staging", good).read_bytes() == good


def test_bootstrap_preflight_refuses_a_misplaced_sealed_secret_before_applying_anything() -> None:
    from biogitops.cluster.target import Target
    from biogitops.platform.bootstrap import Bootstrap, BootstrapError

    path = sealing.sealed_file("galaxy", "dev", "lab-unit-a", "galaxy-db")
    _write(path, _sealed("lab-unit-b", None))
    try:
        with pytest.raises(BootstrapError, match=r"step preflight: .*lab-unit-a/sealedsecret-galaxy-db.yaml"):
            Bootstrap(Target("dev", "kwok")).run(stop_after="preflight")
    finally:
        path.unlink()
        path.parent.rmdir()
