"""The metric names a PromQL expression reads, without a full parser.

    metric_names('sum by (namespace) (rate(apiserver_request_total{code=~"5.."}[5m]))')
    -> {"apiserver_request_total"}

Syntax is checked by promtool (`nox -s rules`); this only has to find selectors in a query
promtool accepts: identifiers that are not functions, aggregations, keywords, label lists
(`by (...)`, `on (...)`, `group_left (...)`) or inside `{...}`, `[...]` and strings.
Grafana variables are replaced first (`grafana_to_promql`).
"""

from __future__ import annotations

import re

KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "group_left", "group_right"}
# aggregations may put their `by (...)` before the parenthesis: `sum by (x) (...)`
AGGREGATIONS = {
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
}
LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(r"(0x[0-9a-fA-F]+|[0-9.]+([eE][+-]?[0-9]+)?)[A-Za-z0-9_.]*")
_NAME_MATCHER = re.compile(r"""__name__\s*=\s*["']([A-Za-z_:][A-Za-z0-9_:]*)["']""")
_CLOSE = {"{": "}", "[": "]", "(": ")"}


def _skip_string(expr: str, i: int) -> int:
    quote = expr[i]
    i += 1
    while i < len(expr) and expr[i] != quote:
        i += 2 if expr[i] == "\\" and quote != "`" else 1
    return i + 1


def _skip_group(expr: str, i: int) -> tuple[int, str]:
    """From an opening bracket at i to just past its closing one; returns (index, inner text)."""
    opening, closing = expr[i], _CLOSE[expr[i]]
    depth, start = 0, i
    while i < len(expr):
        char = expr[i]
        if char in "\"'`":
            i = _skip_string(expr, i)
            continue
        if char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0:
                return i + 1, expr[start + 1 : i]
        i += 1
    return i, expr[start + 1 :]


def _next_char(expr: str, i: int) -> tuple[int, str]:
    while i < len(expr) and expr[i].isspace():
        i += 1
    return i, expr[i] if i < len(expr) else ""


def metric_names(expr: str) -> set[str]:
    """Every metric name the expression selects."""
    return {name for name, _ in selectors(expr)}


_MATCHER = re.compile(r"""([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!=|!~|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)""")


def label_matchers(inner: str) -> dict[str, str]:
    """The equality matchers of a selector's `{...}` text: label -> value (`=~`, `!=`, `!~` left out)."""
    return {label: value[1:-1] for label, op, value in _MATCHER.findall(inner) if op == "="}


def selectors(expr: str) -> list[tuple[str, str]]:
    """(metric name, the text inside its `{...}` or "") for every selector of the expression.

    selectors('up{job="sealed-secrets"} == 0')  ->  [("up", 'job="sealed-secrets"')]
    """
    names: list[tuple[str, str]] = []
    i = 0
    while i < len(expr):
        char = expr[i]
        if char in "\"'`":
            i = _skip_string(expr, i)
        elif char == "#":
            newline = expr.find("\n", i)
            i = len(expr) if newline < 0 else newline
        elif char == "{":
            i, inner = _skip_group(expr, i)
            names.extend((name, inner) for name in _NAME_MATCHER.findall(inner))
        elif char == "[":
            i, _ = _skip_group(expr, i)
        elif char.isdigit() or (char == "." and expr[i + 1 : i + 2].isdigit()):
            match = _NUMBER.match(expr, i)
            i = match.end() if match else i + 1
        elif _IDENT.match(expr, i):
            match = _IDENT.match(expr, i)
            assert match is not None
            word, i = match.group(), match.end()
            j, following = _next_char(expr, i)
            if word.lower() in LABEL_LISTS and following == "(":
                i, _ = _skip_group(expr, j)
            elif following == "(" or word.lower() in KEYWORDS | LABEL_LISTS | AGGREGATIONS:
                continue  # a function or aggregation name, or a keyword
            elif following == "{":
                i, inner = _skip_group(expr, j)
                names.append((word, inner))
            else:
                names.append((word, ""))
        else:
            i += 1
    return names


_GRAFANA_RANGE = re.compile(r"\$\{?__(rate_interval|interval|range)(_ms|_s)?\}?")
_GRAFANA_VAR = re.compile(r"\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[A-Za-z_][A-Za-z0-9_]*\]\]")


def grafana_to_promql(query: str) -> str:
    """A Grafana panel query with its template variables replaced by plain values."""
    return _GRAFANA_VAR.sub("var", _GRAFANA_RANGE.sub("5m", query))
