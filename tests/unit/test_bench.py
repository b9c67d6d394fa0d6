"""biogitops/bench/kwok.py: the command line and the pure helpers behind the scaling curve (the
figures themselves come from `nox -s bench`, never from a timed test)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from biogitops.bench import kwok
from biogitops.config.labs import parse_lab
from biogitops.paths import REPO_ROOT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100", [100]),
        ("10,100,300,1000", [10, 100, 300, 1000]),
        ("300, 10", [10, 300]),  # spaces tolerated, order normalised
        ("10,10,100", [10, 100]),  # a count given twice runs once
    ],
)
def test_labs_list_is_sorted_and_deduplicated(text: str, expected: list[int]) -> None:
    assert kwok.parse_labs(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty entry"),
        ("10,,100", "empty entry"),
        ("ten", "not a whole number"),
        ("10.5", "not a whole number"),
        ("-5", "not a whole number"),
        ("0", "outside 1.."),
        (str(kwok.MAX_LABS + 1), "outside 1.."),
    ],
    ids=["empty", "double-comma", "word", "fraction", "negative", "zero", "too-many"],
)
def test_bad_labs_value_is_refused_with_its_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        kwok.parse_labs(text)


@pytest.mark.parametrize("bad", ["ten", "10,,", "0"])
def test_bad_labs_on_the_command_line_exits_non_zero_with_one_line(bad: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "biogitops.bench.kwok", "--labs", bad, "--only", "scale"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench: --labs"), proc.stderr
    assert proc.stdout == ""


def test_phases_always_include_settle_in_their_fixed_order() -> None:
    assert kwok.parse_phases("render,rebootstrap,idle") == ["settle", "idle", "rebootstrap", "render"]


def test_unknown_phase_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown warmup"):
        kwok.parse_phases("settle,warmup")


METRICS = """\
# HELP argocd_app_reconcile Application reconciliation performance in seconds.
# TYPE argocd_app_reconcile histogram
argocd_app_reconcile_bucket{dest_server="in-cluster",namespace="argocd",le="0.25"} 3
argocd_app_reconcile_sum{dest_server="in-cluster",namespace="argocd"} 6
argocd_app_reconcile_count{dest_server="in-cluster",namespace="argocd"} 4
workqueue_queue_duration_seconds_sum{name="app_reconciliation_queue"} 12.5
workqueue_queue_duration_seconds_count{name="app_reconciliation_queue"} 5
workqueue_queue_duration_seconds_sum{name="project_reconciliation_queue"} 0
workqueue_queue_duration_seconds_count{name="project_reconciliation_queue"} 0
apiserver_request_total{code="200",resource="a,b",verb="GET"} 7
apiserver_request_total{code="201",verb="POST"} 3
process_cpu_seconds_total 42.5
"""


def test_metrics_text_keeps_labels_and_values_and_skips_comments() -> None:
    samples = kwok.parse_metrics(METRICS)
    assert "# HELP" not in "".join(samples)
    assert samples["process_cpu_seconds_total"] == [({}, 42.5)]
    labels, value = samples["apiserver_request_total"][0]
    assert labels == {"code": "200", "resource": "a,b", "verb": "GET"}  # a comma inside a quoted value
    assert value == 7


def test_histogram_mean_is_sum_over_count_per_group_and_empty_groups_are_dropped() -> None:
    samples = kwok.parse_metrics(METRICS)
    assert kwok.histogram(samples, "argocd_app_reconcile") == {"all": {"count": 4, "mean_s": 1.5}}
    by_queue = kwok.histogram(samples, "workqueue_queue_duration_seconds", by="name")
    assert by_queue == {"app_reconciliation_queue": {"count": 5, "mean_s": 2.5}}
    assert kwok.histogram(samples, "no_such_family") == {}


def test_counter_sums_every_label_set() -> None:
    assert kwok.counter(kwok.parse_metrics(METRICS), "apiserver_request_total") == 10


def test_summary_names_the_controller_queue_wait_as_a_wait() -> None:
    summary, waits = kwok.summarise({"application-controller": kwok.parse_metrics(METRICS)})
    assert summary["controller_app_reconcile"]["all"]["count"] == 4
    assert waits["controller reconciliation queue"] == 12.5


def test_peak_rss_comes_from_vmhwm_not_current_rss() -> None:
    status = "Name:\targocd\nVmHWM:\t  524288 kB\nVmRSS:\t  1024 kB\n"
    assert kwok.peak_rss_kib(status) == 524288
    assert kwok.peak_rss_kib("Name:\tzombie\n") == 0


def test_cpu_ticks_survive_a_command_name_with_spaces_and_parentheses() -> None:
    stat = "1234 (redis (server) x) S 1 1234 1234 0 -1 4194560 10 0 0 0 250 50 0 0 20 0 4 0 100"
    assert kwok.cpu_ticks(stat) == 300


def test_deltas_count_new_processes_from_zero() -> None:
    assert kwok.deltas({"a": 1.0}, {"a": 3.5, "b": 2.0}) == {"a": 2.5, "b": 2.0}


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ({"x": "1"}, {"x": "1"}, []),
        ({"x": "1"}, {"x": "2"}, ["x"]),
        ({"x": "1"}, {"x": "1", "y": "1"}, ["y"]),
        ({"x": "1", "y": "1"}, {"x": "1"}, ["y"]),
    ],
    ids=["nothing-written", "object-rewritten", "object-created", "object-deleted"],
)
def test_rebootstrap_writes_are_every_changed_created_or_deleted_object(before, after, expected) -> None:
    assert kwok.changed(before, after) == expected


def test_bottleneck_on_a_saturated_machine_is_the_top_cpu_consumer() -> None:
    cpu = {"application-controller": 150.0, "kube-apiserver": 60.0, "other": 30.0}
    found = kwok.bottleneck(cpu, wall_s=120, cores=2, waits={"controller reconciliation queue": 900.0})
    assert found["component"] == "application-controller" and found["cpu_bound"] is True
    assert "CPU-bound" in found["statement"]


def test_bottleneck_on_an_idle_machine_names_the_largest_wait() -> None:
    cpu = {"application-controller": 10.0, "repo-server": 20.0}
    waits = {"controller operation (sync) queue": 300.0, "repo-server parallelism limit": 5.0}
    found = kwok.bottleneck(cpu, wall_s=100, cores=2, waits=waits)
    assert found["cpu_bound"] is False and found["component"] == "repo-server"
    assert found["wait"] == "controller operation (sync) queue"


def test_bottleneck_without_figures_says_unknown() -> None:
    assert kwok.bottleneck({}, wall_s=10, cores=2, waits={})["component"] == "unknown"


def test_generated_lab_file_passes_the_lab_schema(tmp_path) -> None:
    path = tmp_path / "bench007.yaml"
    path.write_text(yaml.safe_dump(kwok.lab_file("bench007")))
    assert parse_lab(path).name == "bench007"


def test_curve_table_has_one_row_per_configuration_and_count_with_missing_figures_dashed() -> None:
    point = {
        "settle_s": 700.0,
        "apps": 323,
        "one_more_lab_s": 110.2,
        "rebootstrap_s": 45.0,
        "rebootstrap_writes": [],
        "peak_rss_mib": {"application-controller": 1138.2, "kube-apiserver": 1514.3},
        "machine": {"loadavg": [7.8, 7.0, 6.0]},
        "bottleneck": {"component": "application-controller"},
    }
    table = kwok.curve_table({"baseline": {"100": point, "10": {**point, "settle_s": 160.0}}})
    rows = table.splitlines()[2:]
    assert [r.split(" | ")[1] for r in rows] == ["10", "100"]  # numeric order, not text order
    assert "| 700 | 7.0 | 110 | 45 (0) | - | 1138 / - / - / 1514 | 7.8 | application-controller |" in rows[1]


def test_bench_bootstraps_through_invoke_with_arguments_not_generated_source(tmp_path) -> None:
    cmd = kwok.bootstrap_command("dev", tmp_path / "steps.json")
    assert cmd[1:] == [
        "-m", "invoke", "bootstrap", "--env", "dev", "--provider", "kwok", "--timeout", "3600",
        "--timings", str(tmp_path / "steps.json"),
    ]  # fmt: skip
    assert "-c" not in cmd
    assert "--timings" not in kwok.bootstrap_command("dev")


def test_the_bench_child_reaches_the_bench_cluster_through_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("BIOGITOPS_CACHE", "/nonexistent-bench-cache")
    provider = kwok._provider("dev")
    assert kwok.aside(provider) == {"BIOGITOPS_INSTANCE": "bench", "BIOGITOPS_PORT_OFFSET": "100"}
    for name, value in kwok.aside(provider).items():
        monkeypatch.setenv(name, value)
    from biogitops.cluster.target import Target

    child = Target("dev", "kwok").provider  # what `invoke bootstrap --provider kwok` resolves in the child
    assert (child.cluster_name, child.base_port) == (provider.cluster_name, provider.base_port)


def test_the_bootstrap_task_takes_every_argument_the_bench_passes() -> None:
    from biogitops.tasks.platform import bootstrap

    names = {arg.name for arg in bootstrap.get_arguments()}
    assert {"env", "provider", "timeout", "timings"} <= names
