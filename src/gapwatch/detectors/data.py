"""``data``: problems with the log itself, as findings (so the CLI, the report and the live guard all show them).

* every note the reader attached to the run (resumed steps, a dropped partial last line, a skipped file) is an
  ``info`` finding naming its source;
* a run whose only held-out split is ``test`` gets a ``warning``: decisions taken on test data overstate how good
  the chosen point is;
* a monitored series with fewer than ``min_evaluations`` finite evaluations gets a ``warning``: nothing
  can be said about its curve.

Pure: reads the History's notes and the monitored series; never prints or touches files.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..findings import Finding, FindingKind, Severity
from ..history import History
from ..monitor import Monitor
from ..params import Param, validate
from ..params import register as register_params
from . import register

SPECS: tuple[Param, ...] = register_params("data", (
    Param("min_evaluations", 2, "Finite evaluations of the monitored series below which the log itself is "
          "flagged: with fewer no detector can say anything about the curve.", unit="evaluations", type=int,
          low=1),
))


@register("data")
def check(history: History, *, monitor: Monitor | None = None, **params: Any) -> list[Finding]:
    """Findings about the log of one run (see the module docstring)."""
    p = validate("data", SPECS, params)
    out = [Finding(FindingKind.DATA, Severity.INFO, n.message + (f" ({n.source})" if n.source else ""),
                   detector="history")
           for n in history.notes]
    if monitor is None or not history.has(monitor.split, monitor.metric):
        return out
    if monitor.split == "test":
        out.append(Finding(
            FindingKind.DATA, Severity.WARNING,
            "no validation split was logged, so the test split is monitored: decisions taken on test data "
            "overstate how good the chosen point is; log a separate validation set",
            detector="monitor"))
    s = history.series(monitor.split, monitor.metric)
    n = int(np.isfinite(s.values).sum())
    if n < p["min_evaluations"]:
        out.append(Finding(
            FindingKind.DATA, Severity.WARNING,
            f"{s.name} has {n} finite evaluation(s) in {history.source or history.name}: at least "
            f"{p['min_evaluations']} are needed to say anything about the curve; evaluate more often "
            "(e.g. every epoch)",
            evidence={"evaluations": n}, detector="monitor"))
    return out
