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
