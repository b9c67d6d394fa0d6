"""biogitops/checks/promql.py: the metric names a query reads, and Grafana variables replaced."""

from __future__ import annotations

import pytest

from biogitops.checks.promql import grafana_to_promql, metric_names

CASES = [
    ('sum by (namespace) (rate(apiserver_request_total{code=~"5.."}[5m]))', {"apiserver_request_total"}),
    ("sum(rate(c[5m])) by (le, job)", {"c"}),
    ("a / on (x) group_left (y) b offset 5m", {"a", "b"}),
    ("a * ignoring (pod) group_right b", {"a", "b"}),
    ('{__name__="foo", job="x"} > bool 1', {"foo"}),
    ("count(up == 0) or vector(0)", {"up"}),
    ('label_replace(x, "dst", "$1", "src", "(sum|max)")', {"x"}),
    ("max without (instance) (m) * 1e3 + 0x1F - .5", {"m"}),
    ("histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m]))) @ start()", {"h_bucket"}),
    ("rate(c[1m:10s]) and d unless e", {"c", "d", "e"}),
    ("topk(3, kube_pod_status_phase{phase='Pending'}) # a comment naming not_a_metric", {"kube_pod_status_phase"}),
    ("lab:resourcequota_usage:ratio >= 0.9 < 1", {"lab:resourcequota_usage:ratio"}),
]


@pytest.mark.parametrize(("expr", "names"), CASES)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_grafana_variables_become_plain_values() -> None:
    query = 'sum(rate(x{namespace="$lab", pod=~"${pod:regex}"}[$__rate_interval])) / [[legacy]]'
    assert grafana_to_promql(query) == 'sum(rate(x{namespace="var", pod=~"var"}[5m])) / var'
