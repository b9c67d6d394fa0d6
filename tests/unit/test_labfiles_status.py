"""`invoke status` names each broken lab file and why, from what Argo CD records.

python -m pytest tests/unit/test_labfiles_status.py -q
"""

from __future__ import annotations

from biogitops.platform.labfiles import broken_lab_files

# as Argo CD 3.5.3 records a chart refusal (controller/state.go ComparisonError; helm's fail())
REFUSED = (
    "Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = Unknown "
    "desc = Manifest generation error (cached): `helm template . --name-template lab-gpu --namespace lab-gpu` "
    "failed exit status 1: Error: execution error at (lab-tenant/templates/namespace.yaml:1:4): "
    "clusters/dev/labs/gpu.yaml: quota.gpu: 64000 is not a whole number from 0 to 64 (rule lab-quota-gpu)"
)


def _app(name: str, layer: str, message: str) -> dict:
    return {
        "metadata": {"name": name, "labels": {"bio-gitops.io/layer": layer}},
        "status": {"conditions": [{"type": "ComparisonError", "message": message}]},
    }


def test_a_refused_lab_file_is_named_with_its_rule() -> None:
    apps = [_app("lab-gpu", "labs", REFUSED), _app("lab-genomics", "labs", "")]
    assert broken_lab_files(apps, None) == [
        ("clusters/dev/labs/gpu.yaml", "quota.gpu: 64000 is not a whole number from 0 to 64 (rule lab-quota-gpu)")
    ]


def test_a_lab_file_that_is_not_yaml_is_named_from_the_application_set() -> None:
    appset = {
        "status": {
            "conditions": [
                {
                    "type": "ErrorOccurred",
                    "status": "True",
                    "message": "unable to process file 'clusters/dev/labs/bad.yaml' from repository "
                    "'http://127.0.0.1:1/r.git': unable to parse file: error converting YAML to JSON: yaml: line 3",
                }
            ]
        }
    }
    [(file, why)] = broken_lab_files([], appset)
    assert file == "clusters/dev/labs/bad.yaml"
    assert "unable to parse file" in why and "every lab waits" in why


def test_other_applications_errors_are_not_lab_files() -> None:
    assert broken_lab_files([_app("lab-genomics-nextflow", "lab-apps", REFUSED)], None) == []
