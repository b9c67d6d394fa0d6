"""One table of lab-file rules (tests/fixtures/labs/rules.yaml), refused by preflight and by the
lab-tenant chart alike, each naming the same rule. The chart is fed as Argo CD feeds it: the
`labs` ApplicationSet's template expanded for the file, then its Helm source rendered.

    python -m pytest tests/render/test_lab_rules.py -q
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from biogitops.config.labs import check_apps, check_lab_data
from biogitops.config.pins import load_pins
from biogitops.config.settings import load_settings
from biogitops.errors import BioGitopsError, ConfigError
from biogitops.paths import REPO_ROOT
from biogitops.platform import labgen
from biogitops.render.manifests import _expand, bootstrap_values, render_bootstrap, render_helm_source

TABLE = yaml.safe_load((REPO_ROOT / "tests" / "fixtures" / "labs" / "rules.yaml").read_text())
ROWS = TABLE["rows"]
LABS = REPO_ROOT / "clusters" / "dev" / "labs"


def _lab(row: dict[str, Any]) -> tuple[dict[str, Any], str]:
    data = copy.deepcopy(TABLE["base"])
    data.update(copy.deepcopy(row.get("set") or {}))
    for key in row.get("unset") or []:
        data.pop(key)
    return data, row.get("file") or f"{data.get('name')}.yaml"


def _argocd_source(data: dict[str, Any], file: str) -> dict[str, Any]:
    values = bootstrap_values(load_settings("dev"), load_pins(), "https://git.example.invalid/r.git", "HEAD")
    [appset] = [o for o in render_bootstrap(values, "applicationset-labs.yaml")]
    # the element the lab files generator makes for the file (a file named like a lab's app is not
    # read at all, test_tenancy.py; the chart must still refuse it should it arrive)
    element = {"path": {"path": str(LABS.relative_to(REPO_ROOT)), "filename": file}, "lab": data, "refused": ""}
    [app] = _expand(appset, [element])
    return app


YAML_REFUSED = sorted((REPO_ROOT / "tests" / "fixtures" / "labs" / "yaml").glob("*.yaml"))


@pytest.mark.parametrize("path", YAML_REFUSED, ids=[p.stem for p in YAML_REFUSED])
def test_chart_refuses_what_preflight_refuses_in_the_yaml_itself(path: Path) -> None:
    """The fixtures preflight refuses before reading fields (tests/unit/test_labs.py), handed to
    the chart as the lab files generator hands them over: refused in that lab's Application alone,
    naming the file, the line and the same rule."""
    rule, _, line = path.read_text().splitlines()[0].removeprefix("# expect: ").partition(" line ")
    request = labgen.Request("https://git.example.invalid/r.git", "HEAD", str(LABS.relative_to(REPO_ROOT)), ())
    [element] = labgen.lab_params({path.name: path.read_bytes()}, request)
    values = bootstrap_values(load_settings("dev"), load_pins(), "https://git.example.invalid/r.git", "HEAD")
    [appset] = [o for o in render_bootstrap(values, "applicationset-labs.yaml")]
    [app] = _expand(appset, [element])
    with pytest.raises(BioGitopsError) as refused:
        render_helm_source(app["spec"]["source"], f"lab-{path.stem}")
    message = str(refused.value)
    assert f"clusters/dev/labs/{path.name}: line {line}: " in message, message
    assert f"(rule {rule})" in message, message


def test_the_table_base_is_a_lab_both_accept() -> None:
    data, file = _lab({"id": "base"})
    check_apps([check_lab_data(data, LABS / file)], load_settings("dev"))
    app = _argocd_source(data, file)
    assert any(o["kind"] == "AppProject" for o in render_helm_source(app["spec"]["source"], "lab-genomics"))


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_preflight_refuses_the_row_naming_its_rule(row: dict[str, Any]) -> None:
    data, file = _lab(row)
    with pytest.raises(ConfigError) as err:
        check_apps([check_lab_data(data, LABS / file)], load_settings("dev"))
    assert f"(rule {row['rule']})" in str(err.value)
    assert "\n" not in err.value.message.strip(), "one line"


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_chart_refuses_the_row_naming_its_rule(row: dict[str, Any]) -> None:
    data, file = _lab(row)
    app = _argocd_source(data, file)
    with pytest.raises(BioGitopsError) as err:
        # a fixed release name: an invalid file name makes an Application the API server refuses
        # (that file's only), and the chart must refuse the lab whatever its release is called
        render_helm_source(app["spec"]["source"], "lab-row")
    assert f"(rule {row['rule']})" in str(err.value)
