"""Ultralytics' console output (YOLOv5 and YOLOv8/11 ``train``), as people commit it: a ``training.log`` of stdout,
or the printed output of a notebook cell.

Each epoch prints a header, a progress line rewritten in place (``\\r``) until it holds the epoch's mean losses,
then the validation header and the ``all`` row of the validation set::

          Epoch    GPU_mem   box_loss   seg_loss   cls_loss   dfl_loss  Instances       Size
          1/500      1.27G      1.234       4.83      3.237      1.533         73        640: 100%|██| 50/50
                     Class     Images  Instances      Box(P          R      mAP50  mAP50-95)     Mask(P ...
                       all         18         18    0.00296      0.889    0.00614     0.0043    0.00241 ...

YOLOv5 writes ``Epoch gpu_mem box obj cls labels img_size`` and ``Class Images Labels P R mAP@.5 mAP@.5:.95``;
the classifier writes ``Epoch GPU_mem loss Instances Size`` and ``classes top1_acc top5_acc``. The measurements
get the names of Ultralytics' own ``results.csv`` (``train/box_loss``, ``metrics/mAP50-95(B)``,
``metrics/accuracy_top1``; a segmenter's box group beside its mask group: ``metrics/box_mAP50``), so they are read
as that file is. The epoch is the printed counter (1-based in YOLOv8, 0-based in YOLOv5). Counts (``Instances``,
``Size``, ``Images``) are not measurements, and the validation of ``best.pt`` after training is not a point of the
curve.
"""

from __future__ import annotations

import re

#: The training header: ``Epoch  GPU_mem  box_loss  cls_loss  dfl_loss  Instances  Size``.
_HEAD = re.compile(r"^\s*Epoch\s+(?:GPU_mem|gpu_mem)\s+(.+?)\s*$")
#: A progress line: ``1/500  1.27G  1.234  4.83 …  73  640: 100%|…`` (the counter, the GPU memory, the numbers).
_ROW = re.compile(r"^\s*(\d+)/\d+\s+(?:[\d.]+[GMK]?|N/A)\s+((?:[-+]?[\d.]+(?:e[-+]?\d+)?\s+)*[-+]?[\d.]+(?:e[-+]?\d+)?)"
                  r"\s*(?::|$)")
#: The validation header: ``Class  Images  Instances  Box(P  R  mAP50  mAP50-95)  Mask(P …)``, YOLOv5's ``Class
#: Images Labels P R mAP@.5 mAP@.5:.95`` (``Targets`` in its 2020 releases) or the classifier's ``classes top1_acc
#: top5_acc``.
_VAL_HEAD = re.compile(r"^\s*(?:Class\s+Images\s+(?:Instances|Labels|Targets)\s+(.+?)|classes\s+(top1_acc\s+top5_acc))"
                       r"\s*(?::|$)")
#: The validation row of all classes: ``all  18  18  0.00296  0.889 …`` (the classifier: ``all  0.78  1``).
_ALL = re.compile(r"^\s*all\s+((?:[-+]?[\d.]+(?:e[-+]?\d+)?\s*)+)$")
#: The validation of the best checkpoint after training (``Validating runs/detect/train/weights/best.pt...``):
#: the ``all`` rows after it re-evaluate a saved model and are not points of the curve.
_FINAL = re.compile(r"^\s*Validating\s+.*best\.pt")
#: Columns of the training header that are counts, not losses.
_COUNTS = frozenset({"instances", "size", "labels", "img_size", "targets"})
#: YOLOv5's short loss names (``total``: the sum of the terms, the training loss).
_V5_LOSSES = {"box": "box_loss", "obj": "obj_loss", "cls": "cls_loss", "seg": "seg_loss", "total": "loss"}
#: The validation measures of one task group, in the printed order, as ``results.csv`` names them.
_GROUP = ("precision", "recall", "mAP50", "mAP50-95")


def _val_names(spec: str) -> list[str] | None:
    """The ``results.csv`` names of the measures a validation header announces, in order, or None."""
    if spec.startswith("top1_acc"):
        return ["metrics/accuracy_top1", "metrics/accuracy_top5"]
    marks = re.findall(r"\b(Box|Mask|Pose)\(", spec)
    if marks:  # (the last group is the task's own, as results.csv is read; the box group of a segmenter apart)
        return [f"metrics/{m}({k[0]})" if j == len(marks) - 1 else f"metrics/{k.lower()}_{m}"
                for j, k in enumerate(marks) for m in _GROUP]
    if re.search(r"\bP\s+R\s+mAP", spec):  # YOLOv5 / YOLOv8 detect without a task mark
        return ["metrics/precision", "metrics/recall", "metrics/mAP_0.5", "metrics/mAP_0.5:0.95"]
    return None


class UltralyticsConsole:
    """Reads an Ultralytics console log line segment by line segment; :meth:`segment` says what a segment held."""

    def __init__(self) -> None:
        self.losses: list[str | None] | None = None  # the training header's columns after GPU_mem (None: a count)
        self.val: list[str] | None = None  # the names of the next ``all`` row's measures
        self.final = False  # after ``Validating …best.pt``: re-evaluations of the best checkpoint, not the curve

    def segment(self, seg: str) -> tuple[str, float | None, dict[str, float]] | None:
        """``("epoch", epoch, mean losses so far)`` for a progress line, ``("val", None, measures)`` for the
        ``all`` row, ``("head", None, {})`` for a header, or None when ``seg`` is none of these."""
        if _FINAL.match(seg) is not None:
            self.final = True
            return "head", None, {}
        h = _HEAD.match(seg)
        if h is not None:
            cols = h.group(1).split()
            self.losses = [None if c.lower() in _COUNTS else _V5_LOSSES.get(c.lower(), c) for c in cols]
            return "head", None, {}
        v = _VAL_HEAD.match(seg)
        if v is not None and self.losses is not None:
            self.val = _val_names(v.group(1) or v.group(2) or "")
            return "head", None, {}
        if self.losses is not None:
            r = _ROW.match(seg)
            if r is not None:
                nums = [float(x) for x in r.group(2).split()]
                found = {f"train/{c}": x for c, x in zip(self.losses, nums, strict=False) if c is not None}
                self.final = False
                return "epoch", float(r.group(1)), found
        if self.val is not None and not self.final:
            a = _ALL.match(seg)
            if a is not None:
                nums = [float(x) for x in a.group(1).split()]
                if len(nums) == len(self.val) + 2:  # (the image and instance counts first)
                    nums = nums[2:]
                if len(nums) == len(self.val):
                    return "val", None, dict(zip(self.val, nums, strict=True))
        return None
