"""Kubernetes quantities are read one way: `kubernetes.utils.parse_quantity`, the pinned client's.

    nox -s unit -- -k quantity

Lab quotas (biogitops/config/labs.py) and claim sizes (biogitops/platform/orphans.py) each had a
parser of their own, and they disagreed. Each case is an input one of them got wrong, with the
value Kubernetes gives it (a byte count rounds up, as `Quantity.Value()` does).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from pathlib import Path

import pytest
from kubernetes.utils.quantity import parse_quantity

from biogitops.config import labs
from biogitops.errors import ConfigError
from biogitops.platform.orphans import quantity_bytes

# input, what Kubernetes makes of it; the comment says what the old parsers answered
DISAGREED = [
    ("1e3", Decimal(1000)),  # labs: ValueError, orphans: BioGitopsError
    ("500m", Decimal("0.5")),  # labs: 0.500, orphans: BioGitopsError (millis: how the API writes a fraction)
    ("0.5", Decimal("0.5")),  # labs: 0.5, orphans: 0 (truncated)
    ("0.1Ki", Decimal("102.4")),  # labs: 102.4, orphans: 102 (truncated)
    ("1E", Decimal(10**18)),  # labs: ValueError, orphans: 10**18
    ("1Ei", Decimal(2**60)),  # labs: ValueError, orphans: 2**60
    ("1.3Ei", Decimal("1498797955988901068.8")),  # labs: ValueError, orphans: 1498797955988901120 (a float)
]
IDS = [
    "exponent-refused-by-both",
    "millis-refused-by-orphans",
    "fraction-truncated-by-orphans",
    "fraction-of-Ki-truncated-by-orphans",
    "exa-refused-by-labs",
    "exbi-refused-by-labs",
    "float-rounding-in-orphans",
]


@pytest.mark.parametrize(("text", "value"), DISAGREED, ids=IDS)
def test_kubernetes_reads_the_quantity_so(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(("text", "value"), DISAGREED, ids=IDS)
def test_claim_size_is_read_in_bytes_as_kubernetes_reads_it(text: str, value: Decimal) -> None:
    assert quantity_bytes(text) == math.ceil(value)


@pytest.mark.parametrize(("text", "value"), DISAGREED, ids=IDS)
def test_lab_quota_limits_read_the_quantity_as_kubernetes_does(text: str, value: Decimal) -> None:
    """The lab rules admit fewer spellings (the chart's too); what they admit reads as Kubernetes reads it."""
    data = {
        "quota": {"cpu": "1", "memory": "1Gi", "storage": text},
        "apps": {},
    }
    spelled = re.fullmatch(labs.BYTES_PATTERN, text) is not None
    if not spelled or not 0 < value <= parse_quantity(labs.STORAGE_CEILING):
        with pytest.raises(ConfigError, match=r"\(rule lab-quota-bytes\)"):
            labs._check_limits(Path("lab.yaml"), data)
    else:
        labs._check_limits(Path("lab.yaml"), data)
