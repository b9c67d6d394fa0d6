"""One table of lab-file rules (tests/fixtures/labs/rules.yaml), refused by preflight and by the
lab-tenant chart alike, each naming the same rule. The chart is fed as Argo CD feeds it: the
`labs` ApplicationSet's template expanded for the file, then its Helm source rendered.

    python -m pytest tests/render/test_lab_rules.py -q
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from biogitops.config.labs import check_apps, check_lab_data
from biogitops.config.pins import load_pins
from biogitops.config.settings import load_settings
from biogitops.errors import BioGitopsError, ConfigError
from biogitops.paths import REPO_ROOT
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
    # the element the git files generator makes for the file (a file named like a lab's app is not
    # read at all, test_tenancy.py; the chart must still refuse it should it arrive)
    element = {**data, "path": {"path": str(LABS.relative_to(REPO_ROOT)), "filename": file}}
    [app] = _expand(appset, [element])
    return app


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
