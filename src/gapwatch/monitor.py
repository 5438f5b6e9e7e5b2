"""Which series to watch: the monitored validation metric and its direction."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError, UsageError
from .history import History
from .names import metric_mode, normalize

#: Held-out splits in order of preference when choosing what to monitor. ``test`` is last on purpose:
#: decisions must be taken on validation data; test is only used when nothing else is logged.
HELDOUT_PREFERENCE: tuple[str, ...] = ("val", "test")
#: Metrics in order of preference.
METRIC_PREFERENCE: tuple[str, ...] = ("loss", "acc", "error", "perplexity")


@dataclass(frozen=True)
class Monitor:
    """The monitored series: ``split``/``metric`` and ``mode`` (``"min"``: lower is better, or ``"max"``)."""

    split: str
    metric: str
    mode: str

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise UsageError(f"mode must be 'min' or 'max', got {self.mode!r}")

    @property
    def sign(self) -> float:
        """+1 for min, -1 for max: ``sign * value`` is always "lower is better"."""
        return 1.0 if self.mode == "min" else -1.0

    def to_dict(self) -> dict[str, str]:
        return {"split": self.split, "metric": self.metric, "mode": self.mode}

    @property
    def label(self) -> str:
        return f"{self.split}_{self.metric}"


def parse_monitor(spec: str, mode: str | None = None) -> Monitor:
    """Parse ``--monitor`` values such as ``val_loss``, ``eval/accuracy`` or ``val:acc``."""
    if ":" in spec:
        split, metric = spec.split(":", 1)
        split, metric = normalize(f"{split}_{metric}", default_split=split)
    else:
        split, metric = normalize(spec, default_split="val")
    m = mode or metric_mode(metric)
    if m not in ("min", "max"):
        raise UsageError(f"--mode must be 'min' or 'max', got {m!r}")
    return Monitor(split, metric, m)


def choose_monitor(history: History, requested: Monitor | None = None) -> Monitor:
    """Pick the monitored series of a single run.

    The series the log names as monitored (the live guard writes it in its header), else validation loss if
    present, else validation accuracy, else another validation metric, else the same on
    ``test`` (a finding then warns that test data is being used for decisions).

    Raises:
        InputError: no held-out series; the message names what to log and lists the metrics found.
    """
    if requested is not None:
        if not history.has(requested.split, requested.metric):
            have = ", ".join(history.names()) or "none"
            raise InputError(
                f"monitored metric {requested.split}/{requested.metric} was not logged in run "
                f"{history.name!r}; metrics found: {have}",
                path=history.source or None,
            )
        return requested
    # a log that names its own monitored series (the live guard's header) wins over the defaults
    meta = history.meta.get(history.name, {})
    logged = meta.get("monitor")
    if isinstance(logged, str) and logged:
        mode = meta.get("monitor_mode")
        try:
            own = parse_monitor(logged, mode if mode in ("min", "max") else None)
        except UsageError:
            own = None
        if own is not None and history.has(own.split, own.metric):
            return own
    keys = history.keys()
    for split in HELDOUT_PREFERENCE:
        for metric in METRIC_PREFERENCE:
            if (split, metric) in keys:
                return Monitor(split, metric, metric_mode(metric))
        for s, metric in keys:
            if s == split:
                return Monitor(split, metric, metric_mode(metric))
    have = ", ".join(history.names()) or "none"
    raise InputError(
        f"run {history.name!r} has no validation series. Log a held-out metric such as 'val_loss' or "
        f"'eval_loss' (HF: set eval_strategy), or pass --monitor NAME. Metrics found: {have}",
        path=history.source or None,
    )
