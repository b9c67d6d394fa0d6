"""`nox -s rules`: alert rules, their tests, runbooks and dashboards, checked offline.

    python -m biogitops.checks.alert_rules            # the repository; exit 1 with a line per finding

What it proves (each finding is `file: rule: alert or panel: reason`):
  - every file in observability/prometheus/alert-rules/ is one PrometheusRule;
  - every alert has a severity label and summary, description and runbook_url annotations,
    and its runbook_url ends in runbooks/alerts/<page>.md, a page with the four sections;
  - `promtool check rules` accepts every group (the `spec` of each PrometheusRule);
  - tests/<file>.test.yaml has, for every alert, a case where it fires and one where it stays
    quiet at an eval_time PAST its `for:` window, in a test whose input_series feed a metric the
    alert reads (a quiet case inside the window, or fed nothing, passes for an alert that fires
    always), and `promtool test rules` passes;
  - every alert reads a metric that metrics.yaml lists under an exporter (directly or through a
    recording rule), or `up{job="..."}` of a job an exporter there declares: an alert on
    `vector(1)`, `absent(no_such_metric)` or `up{job="nothing-scrapes-this"}` reads nothing real;
  - every dashboard in observability/grafana/dashboards/ parses, and `promtool check rules`
    accepts each panel query;
  - every metric a rule or panel reads is exposed by an exporter we deploy
    (observability/prometheus/metrics.yaml), is a Prometheus built-in, or is recorded by a rule.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from biogitops import findings
from biogitops.checks.promql import grafana_to_promql, label_matchers, metric_names, selectors
from biogitops.paths import REPO_ROOT

RULES = Path("observability/prometheus/alert-rules")
METRICS = Path("observability/prometheus/metrics.yaml")
DASHBOARDS = Path("observability/grafana/dashboards")
RUNBOOKS = Path("runbooks/alerts")
SEVERITIES = ("critical", "warning", "info")
ANNOTATIONS = ("summary", "description", "runbook_url")
RUNBOOK_SECTIONS = ("Meaning", "Impact", "Diagnosis", "Mitigation")
_RUNBOOK_URL = re.compile(r"(?:^|/)runbooks/alerts/([A-Za-z0-9_.-]+\.md)$")
_DEPLOYED_BY = re.compile(r"^(tool|chart):([a-z0-9-]+)$|^kubernetes$")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def duration_s(text: object) -> float:
    """A Prometheus duration ("1h30m", "5m", "0s"; a bare number is seconds) in seconds."""
    value = str(text or "0s").strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise ValueError(f"{value!r} is not a Prometheus duration")
    return sum(float(n) * _SECONDS[u] for n, u in parts)


@dataclass
class RuleFile:
    path: Path
    spec: dict[str, Any]

    def rules(self) -> list[dict[str, Any]]:
        return [r for g in self.spec.get("groups") or [] for r in g.get("rules") or [] if isinstance(r, dict)]

    def alerts(self) -> list[dict[str, Any]]:
        return [r for r in self.rules() if "alert" in r]


@dataclass
class Query:
    path: Path
    subject: str  # "alert X", "record X" or "panel 'Title'"
    expr: str


@dataclass
class Report:
    """What `check` found over the tree at `root`, and how much it looked at."""

    root: Path
    findings: list[findings.Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, rule: str, path: Path, subject: str, reason: str, fix: str = "") -> None:
        """A finding of `rule` in `path` about `subject` ("alert X", "panel 'T'"; "" for the file itself)."""
        message = f"{subject}: {reason}" if subject else reason
        self.findings.append(findings.Finding.at(path, rule, message, fix=fix, root=self.root))


# ---------------------------------------------------------------- rule files


def load_rule_files(root: Path, report: Report) -> list[RuleFile]:
    """Every *.yaml directly in alert-rules/: exactly one PrometheusRule with spec.groups."""
    files = []
    for path in sorted((root / RULES).glob("*.yaml")):
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError as err:
            report.add("rule-file", path, "", f"not YAML ({str(err).splitlines()[0]})")
            continue
        if len(docs) != 1 or not isinstance(docs[0], dict):
            report.add("rule-file", path, "", f"holds {len(docs)} documents; one PrometheusRule per file")
            continue
        doc = docs[0]
        if doc.get("kind") != "PrometheusRule" or not str(doc.get("apiVersion", "")).startswith(
            "monitoring.coreos.com/"
        ):
            report.add(
                "rule-file",
                path,
                "",
                f"is a {doc.get('apiVersion')}/{doc.get('kind')}, not a monitoring.coreos.com/v1 PrometheusRule",
            )
            continue
        spec = doc.get("spec") or {}
        if not isinstance(spec.get("groups"), list) or not spec["groups"]:
            report.add("rule-file", path, "spec.groups", "missing or empty: a PrometheusRule needs at least one group")
            continue
        files.append(RuleFile(path, spec))
    if not files and not report.findings:
        report.add("rule-file", root / RULES, "", "no PrometheusRule files found")
    return files


def check_alert_fields(root: Path, rule_file: RuleFile, report: Report) -> None:
    for alert in rule_file.alerts():
        name = alert["alert"]
        labels = alert.get("labels") or {}
        annotations = alert.get("annotations") or {}
        severity = labels.get("severity")
        if severity not in SEVERITIES:
            why = "missing" if severity is None else f"{severity!r} is not one of {', '.join(SEVERITIES)}"
            report.add("alert-fields", rule_file.path, f"alert {name}", f"label severity {why}")
        for key in ANNOTATIONS:
            if not str(annotations.get(key) or "").strip():
                report.add("alert-fields", rule_file.path, f"alert {name}", f"annotation {key} is missing")
        url = str(annotations.get("runbook_url") or "")
        if url:
            check_runbook(root, rule_file.path, name, url, report)


def check_runbook(root: Path, path: Path, alert: str, url: str, report: Report) -> None:
    match = _RUNBOOK_URL.search(url)
    if not match:
        report.add(
            "alert-runbook", path, f"alert {alert}", f"runbook_url {url!r} does not point at {RUNBOOKS}/<page>.md"
        )
        return
    page = root / RUNBOOKS / match.group(1)
    if not page.is_file():
        report.add(
            "alert-runbook",
            path,
            f"alert {alert}",
            f"runbook_url names {RUNBOOKS / match.group(1)}, which does not exist",
        )
        return
    headings = set(re.findall(r"^## +(.+?)\s*$", page.read_text(), flags=re.M))
    missing = [s for s in RUNBOOK_SECTIONS if s not in headings]
    if missing:
        report.add(
            "alert-runbook",
            page,
            f"runbook of {alert}",
            f"lacks the section(s) {', '.join('## ' + s for s in missing)}",
        )


# ---------------------------------------------------------------- unit tests of the rules


def test_file(rule_file: RuleFile) -> Path:
    return rule_file.path.parent / "tests" / f"{rule_file.path.stem}.test.yaml"


def check_test_coverage(rule_file: RuleFile, report: Report, reads: dict[str, set[str]] | None = None) -> None:
    """Every alert of the file has a firing case in its test file, and a quiet case (exp_alerts: [])
    at an eval_time past the alert's `for:`, in a test whose input_series feed a metric it reads
    (`reads`: alert -> the metric names its expression reads, through recording rules)."""
    reads = reads or {}
    path = test_file(rule_file)
    alerts = [a["alert"] for a in rule_file.alerts()]
    if not path.is_file():
        for name in alerts:
            report.add("alert-tests", rule_file.path, f"alert {name}", f"has no test: {path.name} is missing in tests/")
        return
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        report.add("alert-tests", path, "", f"not YAML ({str(err).splitlines()[0]})")
        return
    if doc.get("rule_files") != [rule_file.path.name]:
        report.add("alert-tests", path, "rule_files", f"must be [{rule_file.path.name}] (the rule file it tests)")
    firing: set[str] = set()
    quiet: set[str] = set()
    # alert -> (eval_time in seconds, metrics fed by the case's input_series) of each quiet check
    quiet_at: dict[str, list[tuple[float, set[str]]]] = {}
    for case in doc.get("tests") or []:
        fed = {n for s in case.get("input_series") or [] for n in metric_names(str(s.get("series", "")))}
        for check in case.get("alert_rule_test") or []:
            name = check.get("alertname")
            (firing if check.get("exp_alerts") else quiet).add(name)
            if not check.get("exp_alerts"):
                try:
                    at = duration_s(check.get("eval_time"))
                except ValueError as err:
                    report.add("alert-tests", path, f"alert {name}", f"eval_time: {err}")
                    continue
                quiet_at.setdefault(name, []).append((at, fed))
    for alert in rule_file.alerts():
        name = alert["alert"]
        if name not in firing and name not in quiet:
            report.add("alert-tests", rule_file.path, f"alert {name}", f"has no test in tests/{path.name}")
            continue
        if name not in firing:
            report.add("alert-tests", rule_file.path, f"alert {name}", f"no case in tests/{path.name} where it fires")
        if name not in quiet:
            report.add(
                "alert-tests", rule_file.path, f"alert {name}", f"no case in tests/{path.name} where it does not fire"
            )
            continue
        window = str(alert.get("for") or "0s")
        try:
            for_s = duration_s(window)
        except ValueError as err:
            report.add("alert-tests", rule_file.path, f"alert {name}", f"for: {err}")
            continue
        read = reads.get(name, set())
        if not any(at > for_s and fed & read for at, fed in quiet_at.get(name, [])):
            report.add(
                "alert-quiet-past-for",
                rule_file.path,
                f"alert {name}",
                f"no case in tests/{path.name} where it stays quiet past its for: ({window}); a quiet case "
                "inside the window, or fed none of the metrics it reads, passes for an alert that fires always",
                f"add a check with exp_alerts: [] at an eval_time after {window}, in a test whose input_series "
                f"feed one of: {', '.join(sorted(read)) or 'the metrics it should read'}",
            )
    for name in (firing | quiet) - set(alerts):
        report.add("alert-tests", path, f"alert {name}", f"tested but not defined in {rule_file.path.name}")


def orphan_tests(root: Path, rule_files: list[RuleFile], report: Report) -> None:
    known = {test_file(r) for r in rule_files}
    for path in sorted((root / RULES / "tests").glob("*.yaml")):
        if path not in known and not (root / RULES / path.name.replace(".test.yaml", ".yaml")).is_file():
            report.add("alert-tests", path, "", "tests a rule file that does not exist")


# ---------------------------------------------------------------- dashboards


def dashboard_queries(root: Path, report: Report) -> list[Query]:
    """Every panel query (targets[].expr), nested rows included."""
    queries: list[Query] = []
    files = sorted((root / DASHBOARDS).glob("*.json"))
    if not files:
        report.add("dashboard", root / DASHBOARDS, "", "no dashboards found")
    for path in files:
        try:
            doc = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            report.add("dashboard", path, "", f"not JSON ({err})")
            continue
        if not isinstance(doc, dict) or not doc.get("title") or not doc.get("uid"):
            report.add("dashboard", path, "", "needs a title and a uid")
            continue
        panels = list(doc.get("panels") or [])
        count = 0
        while panels:
            panel = panels.pop(0)
            panels.extend(panel.get("panels") or [])
            title = panel.get("title") or f"id {panel.get('id')}"
            for target in panel.get("targets") or []:
                expr = target.get("expr")
                if expr is None:
                    continue
                count += 1
                if not str(expr).strip():
                    report.add("dashboard", path, f"panel {title!r}", "empty query")
                    continue
                queries.append(Query(path, f"panel {title!r}", grafana_to_promql(str(expr))))
        if count == 0:
            report.add("dashboard", path, "", "has no panel query")
    return queries


# ---------------------------------------------------------------- metrics


def known_metrics(root: Path, report: Report, pins: dict[str, Any]) -> dict[str, str]:
    """metric -> exporter, from metrics.yaml; exporters must be deployed by something pinned."""
    path = root / METRICS
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        report.add("metrics-file", path, "", f"cannot be read ({err})")
        return {}
    known = {name: "prometheus" for name in doc.get("builtin") or []}
    for exporter, spec in (doc.get("exporters") or {}).items():
        deployed = str(spec.get("deployedBy", ""))
        match = _DEPLOYED_BY.match(deployed)
        if not match:
            why = f"deployedBy {deployed!r} is not tool:<name>, chart:<name> or kubernetes"
            report.add("metrics-file", path, f"exporter {exporter}", why)
            continue
        if match.group(1) and match.group(2) not in (pins.get(f"{match.group(1)}s") or {}):
            report.add(
                "metrics-file",
                path,
                f"exporter {exporter}",
                f"deployedBy {deployed}: pins.yaml has no such {match.group(1)}",
            )
            continue
        # an exporter that only declares its scrape job (a Java server: only its `up` is read) names no module
        if (spec.get("metrics") or "module" in spec) and "@" not in str(spec.get("module", "")):
            report.add("metrics-file", path, f"exporter {exporter}", "module must be <Go module>@<version>")
        for metric, source in (spec.get("metrics") or {}).items():
            if not source:
                report.add("metrics-file", path, f"metric {metric}", "names no source file")
            known[metric] = exporter
    return known


def declared_jobs(root: Path) -> set[str]:
    """The scrape jobs metrics.yaml's exporters declare (`job:`): the only jobs whose `up` counts as read."""
    try:
        doc = yaml.safe_load((root / METRICS).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return set()
    return {str(spec["job"]) for spec in (doc.get("exporters") or {}).values() if spec.get("job")}


def alert_reads(rule_files: list[RuleFile]) -> dict[str, list[tuple[str, str]]]:
    """alert -> the selectors (metric, `{...}` text) its expression reads, recording rules expanded."""
    recorded: dict[str, str] = {
        str(r["record"]): str(r.get("expr", "")) for f in rule_files for r in f.rules() if r.get("record")
    }

    def expand(expr: str, seen: frozenset[str]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for name, inner in selectors(expr):
            out.append((name, inner))
            if name in recorded and name not in seen:
                out.extend(expand(recorded[name], seen | {name}))
        return out

    return {str(a["alert"]): expand(str(a.get("expr", "")), frozenset()) for f in rule_files for a in f.alerts()}


def check_alert_sources(
    rule_files: list[RuleFile],
    known: dict[str, str],
    jobs: set[str],
    reads: dict[str, list[tuple[str, str]]],
    report: Report,
) -> None:
    """Every alert reads a metric an exporter of metrics.yaml exposes, or `up` of a job one declares."""
    exported = {metric for metric, exporter in known.items() if exporter != "prometheus"}
    for rule_file in rule_files:
        for alert in rule_file.alerts():
            name = str(alert["alert"])
            real = [
                metric
                for metric, inner in reads.get(name, [])
                if metric in exported or (metric == "up" and label_matchers(inner).get("job") in jobs)
            ]
            if not real:
                report.add(
                    "alert-reads-metric",
                    rule_file.path,
                    f"alert {name}",
                    f"reads no metric that metrics.yaml lists (an exporter's metric, or up{{job=...}} of a job "
                    f"an exporter declares: {', '.join(sorted(jobs)) or 'none'}); it does not watch anything real",
                    f"select a metric listed in {METRICS}, or add its exporter there with its source",
                )


def check_metrics(queries: list[Query], known: dict[str, str], recorded: set[str], report: Report) -> None:
    for query in queries:
        for name in sorted(metric_names(query.expr) - set(known) - recorded):
            report.add(
                "metric-exported",
                query.path,
                query.subject,
                f"metric {name} is exposed by no exporter we deploy",
                f"add it to {METRICS} with its source, or fix the name",
            )


# ---------------------------------------------------------------- promtool


def _promtool(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    from biogitops.toolchain import tools

    return subprocess.run([str(tools.which("promtool")), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def _failures(output: str) -> list[str]:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    return [ln for ln in lines if not ln.startswith(("Checking", "SUCCESS", "Unit Testing", "FAILED:"))] or lines[-1:]


def promtool_check(rule_files: list[RuleFile], queries: list[Query], work: Path, report: Report) -> None:
    """`promtool check rules` on each PrometheusRule's spec and on each panel query."""
    for rule_file in rule_files:
        extracted = work / rule_file.path.name
        extracted.write_text(yaml.safe_dump(rule_file.spec, sort_keys=False))
        proc = _promtool(["check", "rules", "--lint=none", extracted.name], work)
        if proc.returncode != 0:
            for line in _failures(proc.stdout + proc.stderr):
                report.add("promtool-check", rule_file.path, "", line.replace(str(extracted), rule_file.path.name))
    panels = work / "panels"
    panels.mkdir()
    for i, query in enumerate(queries):
        rule = {"groups": [{"name": "panel", "rules": [{"record": "panel:query", "expr": query.expr}]}]}
        probe = panels / f"{i}.yaml"
        probe.write_text(yaml.safe_dump(rule))
        proc = _promtool(["check", "rules", "--lint=none", str(probe)], work)
        if proc.returncode != 0:
            reason = next((ln for ln in _failures(proc.stdout + proc.stderr) if "parse" in ln), None)
            reason = reason or _failures(proc.stdout + proc.stderr)[0]
            reason = reason.split("could not parse expression: ")[-1]
            report.add("promtool-check", query.path, query.subject, f"promtool rejects the query: {reason}")


def promtool_test(rule_files: list[RuleFile], work: Path, report: Report) -> None:
    """`promtool test rules` for each rule file's tests, against its extracted spec."""
    for rule_file in rule_files:
        tests = test_file(rule_file)
        if not tests.is_file():
            continue
        shutil.copy(tests, work / tests.name)
        proc = _promtool(["test", "rules", tests.name], work)
        if proc.returncode != 0:
            out = [ln.rstrip() for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
            detail = " | ".join(ln.strip() for ln in out if not ln.startswith("Unit Testing"))[:1500]
            report.add("promtool-test", tests, "", f"failed: {detail}")


# ---------------------------------------------------------------- driver


def check(root: Path = REPO_ROOT, run_promtool: bool = True) -> Report:
    """Every check above on the tree at `root` (the repository, or a test fixture)."""
    report = Report(root)
    pins = yaml.safe_load((REPO_ROOT / "pins.yaml").read_text())
    rule_files = load_rule_files(root, report)
    queries: list[Query] = []
    recorded: set[str] = set()
    reads = alert_reads(rule_files)
    read_names = {alert: {metric for metric, _ in sel} for alert, sel in reads.items()}
    for rule_file in rule_files:
        check_alert_fields(root, rule_file, report)
        check_test_coverage(rule_file, report, read_names)
        for rule in rule_file.rules():
            kind, name = ("alert", rule["alert"]) if "alert" in rule else ("record", rule.get("record"))
            queries.append(Query(rule_file.path, f"{kind} {name}", str(rule.get("expr", ""))))
            if kind == "record" and name:
                recorded.add(str(name))
    orphan_tests(root, rule_files, report)
    panel_queries = dashboard_queries(root, report)
    known = known_metrics(root, report, pins)
    check_metrics(queries + panel_queries, known, recorded, report)
    check_alert_sources(rule_files, known, declared_jobs(root), reads, report)
    if run_promtool:
        with tempfile.TemporaryDirectory(prefix="bio-gitops-rules-") as tmp:
            promtool_check(rule_files, panel_queries, Path(tmp), report)
            promtool_test(rule_files, Path(tmp), report)
    report.counts = {
        "rule files": len(rule_files),
        "alerts": sum(len(r.alerts()) for r in rule_files),
        "panel queries": len(panel_queries),
    }
    return report


def main() -> int:
    """`python -m biogitops.checks.alert_rules`: a line per finding, `file: rule: subject: reason`; exit 1 if any."""
    found = check()
    return findings.report(found.findings, "rules", ", ".join(f"{v} {k}" for k, v in found.counts.items()))


if __name__ == "__main__":
    sys.exit(main())
