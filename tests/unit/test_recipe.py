"""The generic `debian` image recipe (biogitops/cluster/kind/recipe.py) and the lab image pins."""

from __future__ import annotations

import dataclasses

import pytest

from biogitops.cluster.kind import imagesource, recipe, workloads
from biogitops.cluster.kind.nodeimage.docker import ImageBuildError
from biogitops.config.pins import load_pins


def test_wheels_are_installed_in_a_stage_the_image_does_not_keep() -> None:
    text = recipe.dockerfile(load_pins().images["nf-tasks"], "base:1")
    final = text.split("FROM base:1\n", 1)[1]
    assert "COPY pypi" not in final
    assert "COPY --from=wheels /opt/multiqc /opt/multiqc" in final
    assert "fastqc=0.11.9+dfsg-6" in final and "seqtk=1.3-4" in final


def test_every_jar_and_wheel_is_pinned_by_sha256_once() -> None:
    pins = load_pins()
    jars = recipe.maven_files(pins.images["nextflow"])
    assert len(jars) == len({name for _, name, _ in jars}) == 54
    assert any(name == "nextflow-24.10.0.jar" for _, name, _ in jars)
    assert all(url.startswith("https://repo1.maven.org/maven2/") for url, _, _ in jars)
    wheels = pins.images["nf-tasks"].recipe["pypi"]["requirements"]
    assert "multiqc==1.35" in {line.split()[0] for line in wheels}
    assert recipe.requirements(pins.images["nf-tasks"]).count("--hash=sha256:") == len(wheels)


def test_a_changed_pin_changes_that_image_key_alone() -> None:
    pins = load_pins()
    pin = pins.images["nf-tasks"]
    changed = dataclasses.replace(pin, recipe={**pin.recipe, "packages": ["fastqc=0.12.1-1", "seqtk=1.3-4"]})
    assert workloads.key(changed, pins) != workloads.key(pin, pins)
    assert workloads.key(pins.images["nextflow"], pins) == workloads.key(pins.images["nextflow"], pins)


def test_lab_images_are_not_platform_images() -> None:
    """Bootstrap builds and pulls the platform's images only; lab images come when a run needs them."""
    pins = load_pins()
    assert {pin.name for pin in workloads.lab_pins(pins)} >= {"nextflow", "nf-tasks"}
    assert not {pin.name for pin in workloads.source_pins(pins)} & {"nextflow", "nf-tasks"}
    assert "nextflow" not in {pin.name for pin in imagesource.upstream_pins(pins)}


def test_an_archive_gives_only_its_listed_members(tmp_path) -> None:
    """recipe.archives: a directory member's files keep their paths below it, a file member is
    that file; the rest of the archive never reaches the build context."""
    import io
    import tarfile

    archive = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, body, mode in [
            ("pkg-1.0/deps/jars/a.jar", b"A", 0o644),
            ("pkg-1.0/deps/bin/run", b"#!/bin/sh\n", 0o755),
            ("pkg-1.0/lib/py4j.zip", b"Z", 0o644),
            ("pkg-1.0/tests/big.bin", b"X" * 100, 0o644),
        ]:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(body), mode
            tar.addfile(info, io.BytesIO(body))
    extract = {"pkg-1.0/deps/jars": "/opt/x/jars", "pkg-1.0/deps/bin": "/opt/x/bin", "pkg-1.0/lib/py4j.zip": "/z.zip"}
    recipe.unpack(archive, extract, tmp_path / "a0", "image x")
    # entries in sorted order: deps/bin (0), deps/jars (1), lib/py4j.zip (2)
    assert (tmp_path / "a0/0/run").stat().st_mode & 0o111
    assert (tmp_path / "a0/1/a.jar").read_bytes() == b"A"
    assert (tmp_path / "a0/2").read_bytes() == b"Z"
    assert not list(tmp_path.rglob("big.bin"))
    import pytest

    from biogitops.cluster.kind.nodeimage.docker import ImageBuildError

    with pytest.raises(ImageBuildError, match="holds no pkg-1.0/missing"):
        recipe.unpack(archive, {"pkg-1.0/missing": "/m"}, tmp_path / "a1", "image x")


def test_spark_images_share_their_big_layers_and_the_operator_is_built_from_its_module() -> None:
    pins = load_pins()
    spark, operator = pins.images["spark"], pins.images["spark-operator"]
    spark_lines = recipe.dockerfile(spark, "base:1").splitlines()
    operator_lines = recipe.dockerfile(operator, "base:1").splitlines()
    # the apt step and Spark's jars are the same instructions on the same base: one set of layers
    assert spark_lines[:6] == operator_lines[:6]
    assert "COPY a0/1 /opt/spark/jars" in spark_lines
    [(dest, tool)] = recipe.go_pins(operator).items()
    assert dest == "/usr/bin/spark-operator"
    assert (tool.module, tool.package, tool.version) == (
        "github.com/kubeflow/spark-operator/v2",
        "cmd/operator",
        "2.5.2",
    )
    assert tool.version == pins.charts["spark-operator"]["version"]
    assert "COPY g0 /usr/bin/spark-operator" in operator_lines
    assert {spark.name, operator.name} <= {pin.name for pin in workloads.lab_pins(pins)}
    changed = dataclasses.replace(
        operator, recipe={**operator.recipe, "go": {dest: {**operator.recipe["go"][dest], "version": "2.5.3"}}}
    )
    assert workloads.key(changed, pins) != workloads.key(operator, pins)


def test_the_identity_provider_image_is_built_but_never_loaded_into_the_nodes() -> None:
    """dev's Keycloak runs beside kind (the API server needs it before it starts)."""
    pins = load_pins()
    assert pins.images["keycloak"].beside
    assert "keycloak" not in {pin.name for pin in workloads.source_pins(pins)}
    text = recipe.dockerfile(pins.images["keycloak"], "base:1")
    assert "COPY d0 /opt/keycloak" in text and "kc.sh build --db=dev-file" in text


def test_a_new_keycloak_pin_rebuilds_its_image() -> None:
    pins = load_pins()
    pin = pins.images["keycloak"]
    tool = pins.tools["keycloak"]
    newer = dataclasses.replace(pins, tools={**pins.tools, "keycloak": dataclasses.replace(tool, version="26.8.0")})
    assert workloads.key(pin, newer) != workloads.key(pin, pins)


def test_a_dist_not_named_in_the_recipe_tools_is_refused(tmp_path) -> None:
    pin = load_pins().images["keycloak"]
    stray = dataclasses.replace(pin, tools=(), recipe={**pin.recipe, "tools": []})
    with pytest.raises(ImageBuildError, match="recipe.dists /opt/keycloak: keycloak is not in its recipe.tools"):
        recipe.prepare(stray, tmp_path, tmp_path, tools={})
