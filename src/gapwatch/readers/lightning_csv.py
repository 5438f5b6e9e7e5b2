"""PyTorch Lightning ``CSVLogger``: ``<save_dir>/<name>/version_<n>/metrics.csv`` (+ ``hparams.yaml``).

``metrics.csv`` has one row per ``log`` flush, with ``epoch`` and ``step`` columns and the logged keys in
sorted order; training and validation land on separate, sparse rows::

    epoch,step,train_loss_epoch,train_loss_step,val_acc,val_loss
    0,1,,0.654,,
    0,5,,,0.4375,1.378
    0,5,0.504,,,

``self.log(..., on_step=True, on_epoch=True)`` writes two columns: ``train_loss_epoch`` (the epoch mean) becomes
``train``/``loss`` and ``train_loss_step`` becomes ``train``/``loss_step`` so the two never mix; a lone
``*_step`` or ``*_epoch`` column keeps its plain name. Lightning's ``epoch`` column is the 0-based epoch index;
gapwatch reports **1-based** epochs (epoch 1 = the first epoch), as for Keras. ``hparams.yaml`` beside the CSV
(or in the run directory) goes to ``History.meta[run]["hparams"]``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..history import History
from ..names import normalize
from ._parts import Parts, build
from .generic_csv import _header, read_table, wide_parts

NAME = "lightning-csv"

#: Added to Lightning's 0-based ``epoch`` column.
EPOCH_OFFSET = 1.0


def sniff(path: Path, head: str) -> bool:
    if path.is_dir():
        return (path / "metrics.csv").is_file() and (path / "hparams.yaml").is_file()
    cols = _header(head)
    if not cols or "epoch" not in cols or "step" not in cols:
        return False
    suffixed = any(c.endswith(("_step", "_epoch")) for c in cols if c not in ("epoch", "step"))
    # a hand-written metrics.csv with epoch,step columns is only Lightning's when hparams.yaml is beside it
    return suffixed or (path.name == "metrics.csv" and (path.parent / "hparams.yaml").is_file())


def _hparams(d: Path) -> dict[str, object] | None:
    f = d / "hparams.yaml"
    if not f.is_file():
        return None
    import yaml

    try:
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"hparams.yaml is not readable YAML ({exc.__class__.__name__})", path=f) from None
    return data if isinstance(data, dict) else {"value": data}


def read_parts(path: Path, run: str) -> list[Parts]:
    path = Path(path)
    csv_path = path / "metrics.csv" if path.is_dir() else path
    t = read_table(csv_path)
    low = {c.lower() for c in t.columns}
    rename: dict[str, tuple[str, str]] = {}
    for c in t.columns:
        lc = c.lower()
        if lc.endswith("_step") and lc[:-5] + "_epoch" in low:
            split, metric = normalize(c[:-5], "train")
            rename[c] = (split, f"{metric}_step")
    p = wide_parts(t, run, epoch_offset=EPOCH_OFFSET, rename=rename)
    p.source = str(path)
    hp = _hparams(csv_path.parent)
    if hp is not None:
        p.meta["hparams"] = hp
    return [p]


def read(path: Path, run: str) -> History:
    return build(read_parts(path, run))
