"""``gapwatch watch``: follow growing logs with no change to the training code, report findings and stop
recommendations as they arise, and alert (see :mod:`.core`, :mod:`.tail`, :mod:`.events`, :mod:`.sinks`)."""

from __future__ import annotations

from .core import EXIT_FINDING, Watcher, WatchOptions, default_state_path, watch
from .events import SCHEMA
from .sinks import AlertState, CommandSink, SinkError, WebhookSink

__all__ = ["EXIT_FINDING", "SCHEMA", "AlertState", "CommandSink", "SinkError", "WatchOptions", "Watcher",
           "WebhookSink", "default_state_path", "watch"]
