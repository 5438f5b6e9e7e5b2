"""Generated runs with known shape for the report's tests, screenshots and documentation.

Nothing here is measured data: curves are drawn from simple formulas plus seeded noise so a report can be
rendered without any log (``python -m gapwatch.testing.samples OUT_DIR`` writes the sample reports).

* :func:`overfitting_history` — train loss falling, validation loss U-shaped (minimum at ``best_epoch``), with
  accuracy curves and an extra held-out split (``retention``).
* :func:`sweep_history` — ``n`` runs whose amount of overfitting is driven by their hyperparameters (weight decay
  and dropout reduce it, a larger learning rate increases it), stored in ``History.meta``.
* :func:`every_finding` — one Finding of every :class:`~gapwatch.findings.FindingKind`.
* :func:`sample_forecast`, :func:`sample_examples` — a :class:`~gapwatch.forecast.core.Forecast` and an
  :class:`~gapwatch.examples.summary.ExampleSummary` (with tiny PNG thumbnails) to attach to a run.
"""

from __future__ import annotations

import base64
import struct
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis import Analysis, RunAnalysis, analyze
from ..examples.summary import ExampleSummary
from ..findings import Finding, FindingKind, Severity
from ..forecast.core import Forecast
from ..history import History
from ..monitor import Monitor
from ..summary import summarize_run

XSS = "<script>alert(1)</script>"
#: The samples' subject is the U-shaped validation loss: their analyses monitor it (the task metric, accuracy,
#: degrades too but more slowly; see :func:`overfitting_records`).
VAL_LOSS = Monitor("val", "loss", "min")


def keras_csvlogger_file(path: str | Path) -> Path:
    """Write a 10-epoch Keras ``CSVLogger`` file whose validation loss turns up after epoch 6 (its forecast
    refines the best curve shape with Nelder–Mead) to ``path``; the start-up benchmark's and test's log."""
    rows = ["epoch,accuracy,loss,val_accuracy,val_loss"]
    for e in range(10):
        va = 0.5 + 0.03 * e - 0.004 * max(0, e - 6) ** 2
        vl = 1 / (e + 1) + 0.02 * max(0, e - 5) ** 1.5 + 0.2
        rows.append(f"{e},{0.5 + 0.04 * e:.4f},{1 / (e + 1):.4f},{va:.4f},{vl:.4f}")
    out = Path(path)
    out.write_text("\n".join(rows) + "\n")
    return out


def overfitting_records(*, epochs: int = 60, best_epoch: float = 22.0, severity: float = 1.0, noise: float = 0.01,
                        seed: int = 0, extra_split: bool = True, accuracy: bool = True) -> list[dict[str, Any]]:
    """Wide log records (one per epoch, as a JSONL/CSV log would hold them) of :func:`overfitting_history`.

    ``severity`` scales how fast validation loss rises past ``best_epoch`` (0: no overfitting); ``accuracy``
    adds train/val accuracy columns (val accuracy degrades 6x more slowly, in relative terms, than the loss)."""
    rng = np.random.default_rng(seed)
    e = np.arange(1, epochs + 1, dtype=float)
    train = 2.3 * np.exp(-e / 9.0) + 0.05 + rng.normal(0, noise / 2, e.size)
    val = 0.55 + 1.8 * np.exp(-e / 8.0) + severity * 0.012 * np.maximum(e - best_epoch, 0) ** 1.15
    val = val + rng.normal(0, noise, e.size)
    tr_acc = 1 - 0.9 * np.exp(-e / 8.0) + rng.normal(0, noise / 3, e.size)
    va_acc = (0.86 - 0.75 * np.exp(-e / 7.0) - severity * 0.002 * np.maximum(e - best_epoch, 0)
              + rng.normal(0, noise / 2, e.size))
    recs: list[dict[str, Any]] = []
    for i, ep in enumerate(e):
        rec: dict[str, Any] = {"epoch": float(ep), "step": float(ep * 100), "train_loss": float(train[i]),
                               "val_loss": float(val[i])}
        if accuracy:
            rec.update(train_acc=float(min(tr_acc[i], 1.0)), val_acc=float(va_acc[i]))
        if extra_split:
            rec["retention_loss"] = float(val[i] + 0.15 + 0.004 * ep)
        recs.append(rec)
    return recs


def overfitting_history(name: str = "resnet-small", *, epochs: int = 60, best_epoch: float = 22.0,
                        severity: float = 1.0, noise: float = 0.01, seed: int = 0,
                        extra_split: bool = True) -> History:
    """One run: epochs ``1..epochs``, train loss falling, validation loss U-shaped (see
    :func:`overfitting_records`), accuracy curves and, with ``extra_split``, a ``retention`` held-out loss."""
    recs = overfitting_records(epochs=epochs, best_epoch=best_epoch, severity=severity, noise=noise, seed=seed,
                               extra_split=extra_split)
    return History.from_records(recs, run=name, source=f"generated/{name}.jsonl")


def sweep_history(n: int = 50, *, epochs: int = 40, seed: int = 0) -> History:
    """``n`` runs with hyperparameters in ``meta`` (learning_rate, weight_decay, dropout, optimizer, seed)."""
    rng = np.random.default_rng(seed)
    runs = []
    for i in range(n):
        lr = float(10 ** rng.uniform(-4, -2))
        wd = float(rng.choice([0.0, 1e-4, 1e-2, 0.1]))
        dropout = float(rng.choice([0.0, 0.1, 0.3]))
        opt = str(rng.choice(["adamw", "sgd"]))
        sev = max(0.0, 1.6 - 12 * wd - 3 * dropout + 0.4 * (np.log10(lr) + 3)) * float(rng.uniform(0.6, 1.4))
        best = float(rng.uniform(10, 25))
        name = f"lr{lr:.1e}_wd{wd:g}_do{dropout:g}_{opt}_{i:02d}"
        h = overfitting_history(name, epochs=epochs, best_epoch=best, severity=sev, seed=seed * 1000 + i,
                                extra_split=False)
        h = h.with_meta(name, learning_rate=lr, weight_decay=wd, dropout=dropout, optimizer=opt, seed=i,
                        output_dir=f"/runs/{name}")
        runs.append(h)
    return History.concat(runs)


def every_finding(epoch_max: float = 60.0) -> list[Finding]:
    """One finding of every kind, with evidence, actions and references (hand-written, not detected)."""
    refs = {
        "overfitting": ("Prechelt, Early Stopping - But When? (1998)",),
        "double_descent": ("Deep Double Descent: Where Bigger Models and More Data Hurt (2019)",),
        "grokking": ("Grokking at the Edge of Numerical Stability (2025)",),
        "memorization": ("Does Learning Require Memorization? A Short Tale about a Long Tail (2020)",),
        "instability": ("Small-scale proxies for large-scale Transformer training instabilities (2023)",),
        "underfitting": ("Train longer, generalize better (2017)",),
        "catastrophic_overfitting": ("Eliminating Catastrophic Overfitting Via Abnormal Adversarial Examples "
                                     "Regularization (2023)",),
        "stability_gap": ("Continual evaluation for lifelong learning: Identifying the stability gap (2023)",),
        "data": (),
    }
    sev = {"overfitting": Severity.CRITICAL, "instability": Severity.CRITICAL, "catastrophic_overfitting":
           Severity.CRITICAL, "data": Severity.INFO, "double_descent": Severity.INFO, "grokking": Severity.INFO}
    out = []
    kinds = [k.value for k in FindingKind]
    for j, kind in enumerate(kinds):
        ep = None if kind == "data" else round(5 + j * (epoch_max - 10) / len(kinds))
        out.append(Finding(
            kind=FindingKind(kind), severity=sev.get(kind, Severity.WARNING),
            message=f"sample {kind.replace('_', ' ')} finding at epoch {ep}",
            step=None if ep is None else ep * 100, epoch=ep,
            evidence={"onset_epoch": ep, "statistic": 3.5 + j, "p_value": 0.001 * (j + 1),
                      "trajectory": list(np.linspace(0.1, 0.5, 20).round(3))},
            actions=(f"first remedy for {kind}", f"second remedy for {kind}"),
            references=refs.get(kind, ()), detector=kind))
    return out


def sample_forecast(last_epoch: float = 60.0, horizon: int = 20, level: float = 0.9) -> Forecast:
    """A forecast with quantiles widening with the horizon and the best already behind."""
    x = np.arange(last_epoch + 1, last_epoch + horizon + 1, dtype=float)
    med = level + 0.012 * (x - last_epoch)
    width = 0.02 + 0.006 * (x - last_epoch)
    return Forecast(name="sample", monitor=None, observed=int(last_epoch), x_observed=np.arange(1.0, last_epoch + 1),
                    y_observed=np.full(int(last_epoch), level), x=x,
                    quantiles={"0.1": med - width, "0.5": med, "0.9": med + width},
                    best={"x": 22.0, "low": 18.0, "high": 27.0}, p_best_behind=0.97, method="ensemble")


def _png(pixels: np.ndarray) -> bytes:
    """Encode an ``(h, w)`` uint8 grey image as PNG (no dependency)."""
    h, w = pixels.shape
    raw = b"".join(b"\x00" + pixels[i].astype(np.uint8).tobytes() for i in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def sample_examples(n: int = 1000, *, seed: int = 0, thumbnails: bool = True) -> ExampleSummary:
    """An example summary of ``n`` examples, 10% of them noisy (low AUM), with labels, suggested labels and
    thumbnails of the most suspicious ones."""
    from ..examples.summary import HIST_BINS

    rng = np.random.default_rng(seed)
    noisy = rng.random(n) < 0.1
    aum = np.where(noisy, rng.normal(-1.5, 1.0, n), rng.normal(2.0, 1.0, n))
    el2n = np.clip(np.where(noisy, rng.normal(1.1, 0.2, n), rng.normal(0.35, 0.2, n)), 0, 1.41)
    forgetting = np.where(noisy, rng.poisson(4, n), rng.poisson(0.6, n)).astype(float)
    order = np.argsort(aum)
    cut = int(noisy.sum())
    labels = rng.integers(0, 10, n)
    hists = {}
    for name, arr, d in (("aum_early", aum, "low"), ("el2n", el2n, "high"), ("forgetting", forgetting, "high")):
        counts, edges = np.histogram(arr, bins=HIST_BINS)
        hists[name] = {"edges": edges.tolist(), "counts": counts.tolist(), "direction": d}
    top = [{"index": int(i), "score": round(float(aum[i]), 4), "label": int(labels[i]),
            "suggested": int((labels[i] + 1) % 10)} for i in order[:20]]
    th: dict[int, str] = {}
    if thumbnails:
        for idx in order[:20].tolist():
            img = (rng.random((12, 12)) * 255).astype(np.uint8)
            img[3:9, 5:7] = 255
            th[int(idx)] = base64.b64encode(_png(img)).decode("ascii")
    return ExampleSummary(path="/runs/sample/examples.parquet", n=n, epochs=30, early_epochs=8, runs=1,
                          default_score="aum_early", cutoff=0.0, cutoff_rule="early-training AUM below 0",
                          separability=0.8, cutoff_reliable=True,
                          counts={"likely_mislabeled": cut, "memorized": cut // 2, "hard": cut // 3,
                                  "prunable": n // 5},
                          top_suspicious=top, histograms=hists, thumbnails=th)


def single_analysis(*, xss: bool = False, forecast: bool = True, examples: bool = True) -> Analysis:
    """One analysed overfitting run; ``xss`` names the run, a metric and a message with markup probes."""
    h = overfitting_history("resnet-small" if not xss else f"run {XSS}<img src=x onerror=alert(2)>")
    if xss:
        f = h.frame
        f.loc[f["split"] == "retention", "metric"] = XSS
        f.loc[f["split"] == "retention", "name"] = XSS
        f.loc[f["split"] == "retention", "split"] = f"held{XSS}"
        h = History(f, sources={h.name: f"/tmp/{XSS}.jsonl"}, meta={h.name: {XSS: 1}})
    a = analyze(h, monitor=VAL_LOSS, forecast=False, examples=False)
    r = a.runs[0]
    if forecast:
        val = r.history.series(r.monitor.split, r.monitor.metric) if r.monitor else None
        r.forecast = sample_forecast(float(r.history.frame["epoch"].max()),
                                     level=float(val.values[-1]) if val is not None else 0.9)
    if examples:
        r.examples = sample_examples()
    if xss:
        r.findings.append(Finding(FindingKind.DATA, Severity.WARNING, f"message with {XSS} inside", epoch=30.0,
                                  step=3000.0, evidence={XSS: XSS}, actions=(XSS,), references=(XSS,)))
    return a


def every_kind_analysis() -> Analysis:
    """A run carrying one finding of every kind (hand-built findings over a generated curve)."""
    h = overfitting_history("every-finding-kind")
    a = analyze(h, monitor=VAL_LOSS, forecast=False, examples=False)
    r = a.runs[0]
    detected = [f for f in r.findings if f.kind == "overfitting"]
    findings = detected + [f for f in every_finding() if not (detected and f.kind == "overfitting")]
    findings.sort(key=lambda f: (-f.severity.rank, f.epoch if f.epoch is not None else float("inf")))
    ra = RunAnalysis(r.name, r.source, r.x, r.monitor, r.best, findings, r.history)
    ra.summary = summarize_run(ra)
    return Analysis([ra])


def curves_record_history(rec: dict[str, Any], name: str | None = None) -> History:
    """A History from one record of the shared real-curves file (``real-runs.jsonl``: per-epoch lists under
    ``metrics``, index 0 = before training), with its optimizer hyperparameters in ``meta``. Used for the
    documentation screenshots; the file itself is read in place, never copied."""
    metrics = rec.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise ValueError("record has no 'metrics' lists")
    n = max(len(v) for v in metrics.values())
    rows = [{"epoch": float(i), **{k: v[i] for k, v in metrics.items() if i < len(v)}} for i in range(n)]
    run = name or f"{rec.get('problem', 'run')}/{rec.get('optimizer', '')}/seed{rec.get('random_seed', '')}"
    h = History.from_records(rows, run=run, source=str(rec.get("path", "")))
    hp = {k: v for k, v in (rec.get("hyperparameters") or {}).items() if isinstance(v, (int, float, str, bool))}
    return h.with_meta(run, **hp, schedule=rec.get("schedule"), batch_size=rec.get("batch_size"))


@lru_cache(maxsize=4)
def sweep_analysis(n: int = 50) -> Analysis:
    """The analysis of :func:`sweep_history` (cached: the same object is returned again; do not mutate it)."""
    return analyze(sweep_history(n), monitor=VAL_LOSS, forecast=False, examples=False)


if __name__ == "__main__":  # pragma: no cover
    import sys

    from ..report.html import write_html

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "test-artifacts")
    out.mkdir(parents=True, exist_ok=True)
    write_html(single_analysis(), out / "report-single.html", overwrite=True)
    write_html(sweep_analysis(), out / "report-sweep.html", overwrite=True)
    write_html(every_kind_analysis(), out / "report-every-kind.html", overwrite=True)
    write_html(single_analysis(xss=True), out / "report-xss.html", overwrite=True)
    print(out)


def flatten(doc: object, prefix: str = "") -> dict[str, object]:
    """A JSON-like document as ``{"/runs[0]/forecast/p_best_behind": 0.93, …}``: one entry per leaf, keyed by its
    path (dict keys after ``/``, list positions in ``[i]``), so two documents compare leaf by leaf."""
    if isinstance(doc, dict):
        return {k2: v2 for k, v in doc.items() for k2, v2 in flatten(v, f"{prefix}/{k}").items()}
    if isinstance(doc, list):
        return {k2: v2 for i, v in enumerate(doc) for k2, v2 in flatten(v, f"{prefix}[{i}]").items()}
    return {prefix: doc}
