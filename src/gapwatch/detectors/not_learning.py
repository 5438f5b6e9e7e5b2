"""Not learning: no held-out series of the deciding set ever got better than its first evaluation.

The catch-all for runs that fall between the other detectors because they are short (the noise-based tests of
``underfitting`` and ``overfitting`` need five or more evaluations) or because nothing in them moves: a model
that predicts one class, a loss stuck at ln(C), a broken input pipeline. Judged on the deciding series and its
companions of the same held-out set (:func:`gapwatch.monitor.decide`, :func:`gapwatch.monitor.companions`):

* every one of them is, at its best, no better than at its first evaluation — a held-out loss never fell more
  than ``flat_loss_gain`` below its first value when a bounded task metric of the set made no progress either (a
  model that only learned the class frequencies moves its loss a few percent; alone, a loss is held to its first
  value, since an offset would change "a few percent"), another unbounded measure never beat its first value, a
  bounded task metric (accuracy, F1… in [0, 1]) never gained more than ``max_metric_gain`` or ``sampling_z``
  binomial standard errors of its grid (:func:`gapwatch.stats.sampling_sigma`; 4 images of a 47-image validation
  set are sampling noise), whichever is larger, over the first — unless that metric started at
  ``saturated_share`` or above (converged before its first evaluation);
* and at the end none is better than at its first evaluation (by more than ``max_metric_gain`` for a bounded
  task metric);
* over at least ``min_evaluations`` evaluations;
* while the training loss, when logged (else each logged term of the objective: ``train/box_loss``,
  ``train/cls_loss``…), did not fall by ``max_train_drop`` or more of its first value, and no training task metric
  (accuracy…) made progress by the rule above (a model that fits the training set while the held-out set does
  not follow is memorising or overfitting from the start, which ``memorization``, ``overfitting`` and
  ``metric_disagreement`` judge).

**At chance** (any run with ``chance_min_evaluations`` or more evaluations): the deciding set logs a loss and an
accuracy, the loss stays within ``chance_loss_tol`` of ln C at every evaluation for one whole number C ≥ 2 (the
cross-entropy of a model that gives every one of C classes the same probability), and the accuracy is at most
1/C + ``chance_acc_margin`` at every evaluation — or, the accuracy of a small validation set wandering by sampling
noise up to ``chance_noisy_acc_ratio`` / C, the loss stays within the tighter ``chance_loss_tight_tol`` of ln C — or,
over ``chance_exact_min_evaluations`` or more evaluations, within ``chance_loss_exact_tol`` of ln C whatever the
accuracy (a uniform output's argmax is decided by tiny differences: its accuracy is the share of whichever class it
picks), unless that accuracy rises with a Mann-Kendall trend significant at ``chance_rising_p`` (learning while the
loss has not moved yet).
Two independent measures both at the chance level of the same C are evidence enough even for a run evaluated
twice, and the training side does not excuse it: a training accuracy that rises while the held-out set stays at
chance learns nothing that generalises (the issue's "a run that never left chance level gets at least a
warning").

**Never above zero** (``zero_min_evaluations`` or more evaluations; ``zero_exact_min_evaluations`` when the share
is exactly 0 at every one — not one object detected, not one pixel right): the deciding series is a share (accuracy,
F1, Dice, IoU, mAP… in [0, 1]: :data:`gapwatch.monitor.BOUNDED_MEASURES`) and it never exceeded
``zero_max_value`` — a detector whose mAP stays near 0, a segmenter whose Dice never leaves the floor: the model
never did the task, whatever the training side learned. Not while the share is clearly rising at the end (its
last value its best and a Mann-Kendall increasing trend at level ``zero_rising_p``: Mann, 1945; Kendall, 1975):
learning has started, however low it still is.

The same holds for the task head of an Ultralytics segmenter or pose model (``mode`` ``head_never_above_zero``):
when the box head's share decides (``box_map50``: the task head's shares held one value, so they could not) and
the task head's ``map50``/``map50_95`` never exceeded ``zero_max_value`` in ``zero_min_evaluations`` or more
evaluations, the mask or keypoint head never learned, however well the boxes did.

**AUC at chance** (``auc_min_evaluations`` or more evaluations): a held-out ROC-AUC of the deciding split stays
within ``auc_chance_margin`` of 0.5 at every evaluation. Unlike accuracy, whose chance level depends on the class
balance, an AUC of 0.5 is chance for any balance: the model never ranked positives above negatives, however its
loss or a thresholded F1 moved (a TF-IDF detector whose loss fell while its AUC stayed at 0.49–0.54).

**Frozen loss**: the deciding set's held-out loss holds one value (to ``frozen_rtol``, a value of
``frozen_loss_min_digits`` or more significant digits) at each of its last ``frozen_loss_min_evaluations`` or more
evaluations, at least half of them, no better than its first by more than ``frozen_loss_max_gain`` — unless a share
of the same set (accuracy…) was at ``saturated_share`` or above at its first evaluation (learned before it: an
Ultralytics classifier at top-1 0.998 → 1.0 whose ``val/loss`` sits at 2.844). A loss is
continuous: a learning model's never repeats to the digit, so a repeat this long is weights that stopped changing
(a step-decayed learning rate that reached 1e-22 after a blow-up at LR 10: the test loss 0.02912889 at four
evaluations running).

**Frozen** (``frozen_min_evaluations`` or more evaluations; ``frozen_coarse_min_evaluations`` for a value printed
with fewer than ``frozen_min_digits`` significant digits, ``AUC: 0.99``, which a learning model may repeat below
the print's resolution; ``frozen_fine_min_evaluations`` for a share printed at full precision that is k/N for no
set smaller than ``frozen_fine_grid`` examples — one example more or fewer right changes it): a held-out share of
the deciding set (accuracy,
Dice…; not a per-entity or per-group share) holds the very same value at every evaluation (to ``frozen_rtol``),
and that value is neither a perfect score nor at most ``zero_max_value`` (a sequence-level accuracy of 0 beside a
token accuracy that learns): a model whose predictions never change on the held-out set — one that predicts the
majority class (accuracy = the class's share) or only background — is not learning, even when its loss moves. A
real model's held-out accuracy changes by at least one example between epochs.

**Error rate at its worst** (``worst_error_min_evaluations`` or more evaluations): a held-out error rate of the
deciding set (WER, CER, TER, a classification error) is within ``worst_error_margin`` of 100% (1.0, or 100 when
logged as a percentage), on either side, at every evaluation: every word, character or example wrong, every time. A
speech model fine-tuned with CTC whose outputs collapsed to blanks logs exactly this (``eval_wer`` 1.0 at all six
evaluations of a wav2vec2 fine-tune while its loss sat flat): however its loss moves, it never produced an answer.

**Settled at chance** (``chance_settled_min_evaluations`` or more evaluations): over the second half of the run
the deciding set's held-out loss stays within ``chance_settled_tol`` of ln C, for one whole C from 2 to
``chance_settled_max_classes``, and the training loss within ``chance_settled_train_tol`` of the same ln C, while
the set's accuracy, when logged, does not rise (Mann-Kendall, ``chance_rising_p``). Both losses went to the
cross-entropy of a uniform guess over C classes and stayed: a binary model whose train and test losses fall from
1.04 and 0.90 to 0.685–0.690 by epoch 7 and sit there for 33 more; an SVHN classifier at 2.302 (ln 10) for 95
epochs whose accuracy is the majority digit's share. The losses may start anywhere (a random initialisation's
confident errors put them above ln C); no accuracy is needed, and one that is logged may sit at the majority share.
Only small C: above about twenty classes the values ln C lie so close together that any flat loss is near one.

**Unit-variance loss** (``unit_loss_min_evaluations`` or more evaluations): the deciding set's held-out loss stays
within ``unit_loss_tol`` of 1.0 at every evaluation, and the training loss starts and ends there too. A
mean-squared error of 1.0 is what predicting the mean scores on a standardised target (unit variance), and what a
diffusion model's noise prediction scores when it predicts zero noise (the noise is unit Gaussian, as in Ho et al.,
"Denoising Diffusion Probabilistic Models", 2020): a model whose loss never leaves 1.0, on either set, learned
nothing beyond that constant (a Keras regression at ``val_mse`` 1.0013 → 1.0000; a DDPM whose losses sat at
0.98–1.00 for 50 epochs). A loss that reaches 1.0 from above is not this rule's: it starts elsewhere.

No noise model is used: a series that never beat its first value in four or more evaluations has made no
progress however noisy it is. Severity ``warning``; :func:`gapwatch.detectors.reconcile` drops it when
``underfitting`` already reports the run. The actions are the checks of "A Recipe for Training Neural
Networks" (Karpathy, 2019: overfit one batch, check the inputs and labels, the learning rate) — the ones that
find a pipeline that does not learn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ..findings import Finding, FindingKind, Severity
from ..history import History, Series
from ..monitor import HEAD_LOSSES, Monitor, SeriesRole, companions, decide, role_of, task_family
from ..params import Param, defaults, register, validate
from ..stats import mann_kendall, sampling_sigma, significant_digits
from . import register as register_detector
from ._common import series_or_none, series_table, value_scale, where_text

NAME = "not_learning"
RECIPE = "A Recipe for Training Neural Networks (Karpathy, 2019)"
DDPM = "Denoising Diffusion Probabilistic Models (Ho, Jain & Abbeel, 2020)"

#: Parameters (:mod:`gapwatch.params`). Units: evaluations; metric units; fraction of the first value.
SPECS: tuple[Param, ...] = register(NAME, (
    Param("min_evaluations", 4, "Held-out evaluations needed: a first value and at least three chances to beat "
          "it.", unit="evaluations", type=int, low=2),
    Param("max_metric_gain", 0.05, "A bounded task metric (values in [0, 1]: accuracy, F1…) that never gained "
          "more than this over its first evaluation made no progress: 5 points of accuracy.",
          unit="metric units", low=0, high=1),
    Param("max_train_drop", 0.1, "Not reported when the training loss's final value is this fraction or more "
          "below its first (the model learns the training set: overfitting, judged elsewhere): 10%.",
          unit="fraction of the first value", low=0, low_open=True),
    Param("flat_loss_gain", 0.05, "A held-out loss whose best is no more than this fraction below its first "
          "value made no progress when a bounded task metric of the same set made none either (a model that "
          "only learned the class frequencies moves its loss a few percent and its accuracy not at all): 5%.",
          unit="fraction of the first value", low=0, high=0.5),
    Param("sampling_z", 2.0, "A bounded held-out metric on a small set (its values on a grid k/N) made no "
          "progress while its gain stays within this many binomial standard errors sqrt(p(1-p)/N).",
          unit="standard errors", low=0),
    Param("saturated_share", 0.95, "A bounded held-out metric (accuracy, F1… in [0, 1], higher is better) at or "
          "above this at its first evaluation was learned before it (a fine-tune that converged in its first "
          "epoch): its flat curve is convergence, not a model that does not learn.", unit="metric units", low=0,
          high=1),
    Param("auc_learned", 0.7, "A held-out ROC-AUC (or PR-AUC family member named ``auc``/``auroc``) at or above this "
          "at its first evaluation ranks far better than chance (0.5, for any class balance): the model learned "
          "before it, and a flat curve after it is convergence (a clinical model at AUROC 0.90 → 0.903 over seven "
          "epochs), not a model that does not learn.", unit="metric units", low=0.5, high=1),
    Param("chance_min_evaluations", 2, "At chance: held-out evaluations needed (the loss and the accuracy must "
          "both sit at chance at every one of them).", unit="evaluations", type=int, low=1),
    Param("chance_loss_tol", 0.05, "At chance: largest distance of the held-out loss from ln C, as a fraction of "
          "ln C, at every evaluation: 5% (the loss of a uniform guess over C classes is ln C; a model that "
          "learned the class frequencies of an unbalanced set sits a little below it).",
          unit="fraction of ln C", low=0, low_open=True, high=1),
    Param("chance_acc_margin", 0.05, "At chance: the held-out accuracy may exceed 1/C by at most this at any "
          "evaluation: 5 points (the majority class of an unbalanced set).", unit="accuracy", low=0, high=1),
    Param("chance_loss_tight_tol", 0.025, "At chance with a noisy accuracy: a held-out loss within this fraction "
          "of ln C at every evaluation is a uniform guess even when the accuracy of a small validation set "
          "wanders above 1/C + chance_acc_margin by sampling noise (a deepfake detector at val_loss 0.684-0.696 "
          "beside a val_accuracy of 0.41-0.60): 2.5%.", unit="fraction of ln C", low=0, high=1),
    Param("chance_noisy_acc_ratio", 1.3, "... as long as the accuracy stays at most this multiple of 1/C (or 1/C + "
          "chance_acc_margin, if larger) at every evaluation: 1.3, 0.65 for two classes (an accuracy well above "
          "chance is learning, whatever the loss; for many classes 1/C is small and so is the slack).",
          unit="ratio", low=1),
    Param("chance_loss_exact_tol", 0.005, "At chance whatever the accuracy: a held-out loss within this fraction of "
          "ln C at every one of chance_exact_min_evaluations or more evaluations is a uniform output — its argmax, "
          "and so its accuracy, is decided by tiny differences (the majority class's share, or wandering on a "
          "small set: a 5-class classifier at 1.6094 → 1.607 for 100 epochs beside an accuracy of 0.26–0.40): "
          "0.5%.", unit="fraction of ln C", low=0, high=1),
    Param("chance_exact_min_evaluations", 10, "At chance whatever the accuracy: held-out evaluations needed.",
          unit="evaluations", type=int, low=2),
    Param("chance_rising_p", 0.01, "At chance whatever the accuracy — unless the accuracy rises with a Mann-Kendall "
          "increasing trend significant at this level: a model learning while its loss has not moved yet "
          "(Ultralytics classify's val/loss 5.338 → 5.318 beside a top-1 climbing 0.005 → 0.061 over 10 epochs).",
          unit="p-value", low=0, high=1),
    Param("chance_settled_min_evaluations", 10, "Settled at chance: held-out evaluations needed; the second half of "
          "them is judged.", unit="evaluations", type=int, low=4),
    Param("chance_settled_tol", 0.01, "Settled at chance: largest distance of the held-out loss from ln C over the "
          "second half of its evaluations, as a fraction of ln C: 1%, under a quarter of the gap between ln C and "
          "ln (C + 1) for every C up to chance_settled_max_classes.", unit="fraction of ln C", low=0, high=1),
    Param("chance_settled_train_tol", 0.02, "Settled at chance: the same for the training loss over the second half "
          "of its values (a training mean over batches wanders more): 2%.", unit="fraction of ln C", low=0, high=1),
    Param("chance_settled_max_classes", 20, "Settled at chance: the largest C considered. Above about twenty classes "
          "the values ln C lie so close together that any flat loss is near one of them.", unit="classes",
          type=int, low=2),
    Param("zero_min_evaluations", 10, "Never above zero: held-out evaluations needed (a from-scratch run may sit "
          "near 0 for its first few).", unit="evaluations", type=int, low=2),
    Param("zero_exact_min_evaluations", 3, "Never above zero, exactly: a deciding share that is exactly 0 at every "
          "one of this many evaluations or more is reported even when there are fewer than zero_min_evaluations (a "
          "5-epoch YOLO run whose precision, recall and mAP are 0 at each epoch has not detected a single object; a "
          "from-scratch run leaving the floor shows some value above 0, however small).", unit="evaluations",
          type=int, low=2),
    Param("zero_max_value", 0.05, "Never above zero: the largest value the deciding share (in [0, 1]) may reach at "
          "any evaluation: 0.05 (5% mAP, Dice or accuracy).", unit="metric units", low=0, high=1),
    Param("zero_rising_p", 0.01, "Never above zero: not reported while the share is clearly rising at the end — its "
          "last evaluation its best, above 0, and a Mann-Kendall test of an increasing trend significant at this "
          "level (a next-token accuracy doubling 0.019 → 0.039 over 18 epochs; a mask mAP leaving 0 over the last "
          "four of ten): learning has started, however low the value.", unit="p-value", low=0, high=1),
    Param("auc_min_evaluations", 5, "AUC at chance: held-out ROC-AUC evaluations needed (fewer may sit near 0.5 "
          "while a model warms up).", unit="evaluations", type=int, low=2),
    Param("auc_chance_margin", 0.05, "AUC at chance: the held-out ROC-AUC may differ from 0.5 by at most this at "
          "every evaluation: 0.05 (0.45-0.55, where a classifier ranks positives above negatives about as often "
          "as a coin).", unit="AUC", low=0, high=0.5),
    Param("frozen_min_evaluations", 5, "Frozen: held-out evaluations with the same value needed (a short run's "
          "share may repeat by chance on a small set).", unit="evaluations", type=int, low=3),
    Param("frozen_fine_min_evaluations", 4, "Frozen, on a large set: evaluations with the same value needed for a "
          "share printed at full precision (frozen_fine_digits) that is k/N for no N below frozen_fine_grid — one "
          "example more or fewer right would change it, so four repeats are a constant prediction, where 2 of 7 "
          "may repeat by chance (on the corpus's dev logs: a 4-epoch glaucoma classifier at its majority-class "
          "share 0.7334801554679871 = 333/454 at every epoch; no run lost).", unit="evaluations", type=int, low=3),
    Param("frozen_fine_grid", 50, "Frozen, on a large set: the smallest held-out set size N (the share's grid k/N) "
          "for which frozen_fine_min_evaluations suffice.", unit="examples", type=int, low=2),
    Param("frozen_fine_digits", 7, "Frozen, on a large set: significant digits the repeated share must be printed "
          "with for its grid to be read (a float32 printed whole has 7 or more; a value rounded to four decimals "
          "fits many grids).", unit="significant digits", type=int, low=1),
    Param("frozen_min_digits", 3, "Frozen: a share printed with fewer significant digits than this (0.99, 0.5) "
          "may repeat while a model learns below the print's resolution, so it must hold its value at "
          "frozen_coarse_min_evaluations evaluations, not frozen_min_evaluations (0.2857 = 2 of 7 needs no more).",
          unit="significant digits", type=int, low=1),
    Param("frozen_coarse_min_evaluations", 10, "Frozen: evaluations with the same value needed for a share printed "
          "with fewer than frozen_min_digits significant digits.", unit="evaluations", type=int, low=3),
    Param("frozen_rtol", 1e-6, "Frozen: relative tolerance for 'the same value' (float32 round trips).",
          unit="fraction of the value", low=0, high=0.01),
    Param("frozen_loss_min_evaluations", 4, "Frozen: held-out evaluations with the same loss value needed. A loss is "
          "a continuous quantity: a learning model's held-out loss never repeats to the digit, so fewer repeats "
          "than a share needs (which moves in steps of one example) say the model never changed.",
          unit="evaluations", type=int, low=3),
    Param("frozen_loss_min_digits", 4, "Frozen: a loss counts as repeating only when its value needs at least this "
          "many significant digits (0.02913 does; 0.69 printed with two decimals may repeat while a model learns "
          "below the print's resolution).", unit="significant digits", type=int, low=1),
    Param("frozen_loss_max_gain", 0.01, "Frozen loss: the repeated value may be at most this share of the first "
          "evaluation's value below it — the model never learned before it froze (a loss that fell and then froze "
          "is underfitting's 'flatlined' pattern): 1%.", unit="fraction of the first value", low=0, high=1),
    Param("worst_error_min_evaluations", 3, "Error rate at its worst: held-out evaluations needed, every one "
          "within worst_error_margin of 100%.", unit="evaluations", type=int, low=2),
    Param("worst_error_margin", 0.01, "Error rate at its worst: largest distance from 100% (as a fraction of it, "
          "either side) at any evaluation: 1% (a WER of 0.99-1.01: at most one word in a hundred right).",
          unit="fraction of 100%", low=0, high=0.5),
    Param("unit_loss_min_evaluations", 4, "Unit-variance loss: held-out evaluations needed, every one within "
          "unit_loss_tol of 1.0.", unit="evaluations", type=int, low=2),
    Param("unit_loss_tol", 0.03, "Unit-variance loss: largest distance from 1.0 of the held-out loss at any "
          "evaluation, and of the training loss's first and last values: 3% (a learning model's standardised MSE "
          "leaves 1.0 by more within a few epochs).", unit="loss units", low=0, low_open=True, high=0.5),
    Param("frozen_perfect", 0.995, "Frozen: a share frozen at this value or above is a perfect score, not a stuck "
          "model: 0.995, the mAP50 Ultralytics reports for a perfect detector (its interpolated AP tops out "
          "there).", unit="metric units", low=0, high=1),
))
DEFAULTS: dict[str, Any] = defaults(SPECS)
#: At chance: the largest class count C whose ln C is considered (a loss above ln of it is no uniform guess).
MAX_CLASSES = 1_000_000


def _deciding_set(history: History, monitor: Monitor | None) -> list[tuple[Series, float]]:
    """The deciding series and its set's loss/task metric, each with its sign (+1: lower is better)."""
    try:
        mon = decide(history, monitor).monitor
    except InputError:
        return []
    loss, task = companions(history, mon)
    out: list[tuple[Series, float]] = []
    for m in dict.fromkeys(x for x in (mon, loss, task) if x is not None):
        s = series_or_none(history, m.split, m.metric)
        if s is not None:
            out.append((s.finite(), m.sign))
    return out


def _bounded(s: Series, sign: float) -> bool:
    """Whether ``s`` is a higher-is-better measure with every value in [0, 1] (accuracy, F1…)."""
    return bool(np.all((s.values >= 0) & (s.values <= 1))) and sign < 0


def _no_progress(s: Series, sign: float, p: dict[str, Any], beside_share: bool = False) -> bool:
    """Whether ``s`` (``sign`` +1: lower is better) never got better than its first value by more than its
    tolerance: for a bounded task metric ``max_metric_gain`` or ``sampling_z`` binomial standard errors of its
    grid (:func:`gapwatch.stats.sampling_sigma`: 4 images of a 47-image set are sampling noise), whichever is
    larger; for a positive loss ``flat_loss_gain`` of its first value when ``beside_share`` (a bounded task metric
    of the same set made no progress: the loss alone is no scale for "a few percent", an offset would change
    it); else nothing."""
    z = sign * s.values.astype(float)
    first, best, final = float(z[0]), float(np.min(z)), float(z[-1])
    if _bounded(s, sign):
        tol = max(p["max_metric_gain"], p["sampling_z"] * sampling_sigma(s.values))
    elif beside_share and sign > 0 and first > 0 and s.metric == "loss":
        tol = p["flat_loss_gain"] * first
    else:
        tol = 0.0
    return first - best <= tol and first - final <= tol


def _train_learns(history: History, p: dict[str, Any]) -> bool:
    """Whether the model learns the training set: its loss (without a logged total, one of the terms of its
    objective: ``train/box_loss``, ``train/cls_loss``…) fell by ``max_train_drop`` of its first value, or a
    bounded training task metric (accuracy…) gained more than ``max_metric_gain``."""
    tr = series_or_none(history, "train", "loss")
    table = series_table(history)
    # without a logged total, the terms of the objective (Ultralytics' train/box_loss, cls_loss, dfl_loss…)
    terms = [tr] if tr is not None else [s for (split, metric), s in table.items()
                                         if split == "train" and metric.endswith("_loss")]
    for t in terms:
        v = t.finite().values.astype(float)
        if v.size >= 2 and v[0] > 0 and (v[0] - v[-1]) >= p["max_train_drop"] * v[0]:
            return True
    for (split, metric), s in table.items():
        role = role_of(split, metric)
        if split == "train" and role.role == "task" and len(s.finite()) >= 2 \
                and not _no_progress(s.finite(), role.monitor().sign, p):
            return True
    return False


def _at_chance(history: History, monitor: Monitor | None, p: dict[str, Any]) -> dict[str, Any] | None:
    """Evidence that the deciding set's loss sits at ln C and its accuracy at or below 1/C + margin at every
    evaluation (module docstring, "At chance"), or ``None``."""
    try:
        mon = decide(history, monitor).monitor
    except InputError:
        return None
    loss_m, task_m = companions(history, mon)
    if loss_m is None or loss_m.metric != "loss":
        return None
    loss = series_or_none(history, loss_m.split, loss_m.metric)
    # the set's accuracy, also when another task metric (F1…) decides: chance level is an accuracy's
    acc = series_or_none(history, loss_m.split, "acc")
    if loss is None or acc is None:
        return None
    lv, av = loss.finite().values.astype(float), acc.finite().values.astype(float)
    if av.size and value_scale(av) == 100.0:
        av = av / 100.0  # (an accuracy logged in percent: 1/C is a fraction)
    if min(lv.size, av.size) < p["chance_min_evaluations"] or np.any(av < 0) or np.any(av > 1):
        return None
    mean_loss = float(np.mean(lv))
    if not np.log(2) * (1 - p["chance_loss_tol"]) <= mean_loss <= np.log(MAX_CLASSES):
        return None  # not a cross-entropy of 2 to MAX_CLASSES equally likely classes (and no overflow)
    classes = int(round(float(np.exp(mean_loss))))  # (the mean: every value must be near ln C anyway)
    if classes < 2:
        return None
    ln_c = float(np.log(classes))
    off, top = float(np.max(np.abs(lv - ln_c))), float(np.max(av))
    noisy_top = max(1.0 / classes + p["chance_acc_margin"], p["chance_noisy_acc_ratio"] / classes)
    tight = off <= p["chance_loss_tight_tol"] * ln_c and top <= noisy_top
    exact = (off <= p["chance_loss_exact_tol"] * ln_c and lv.size >= p["chance_exact_min_evaluations"]
             and mann_kendall(av)[1] > p["chance_rising_p"])
    if off > p["chance_loss_tol"] * ln_c or (top > 1.0 / classes + p["chance_acc_margin"] and not tight
                                              and not exact):
        return None
    return {"mode": "at_chance", "classes": classes, "ln_classes": ln_c, "series": [loss.name, acc.name],
            "evaluations": int(min(lv.size, av.size)), "loss_range": [float(lv.min()), float(lv.max())],
            "accuracy_max": float(av.max()), "loss": loss, "acc": acc}


def _warning(s: Series, msg: str, ev: dict[str, Any], actions: tuple[str, ...],
             references: tuple[str, ...] = (RECIPE,)) -> Finding:
    """The ``not_learning`` warning about series ``s`` (its finite values), placed at its last evaluation;
    ``ev`` gains ``at``, where that is in words."""
    last = len(s) - 1
    at = s.at(last)
    return Finding(FindingKind.NOT_LEARNING, Severity.WARNING, msg, step=at["step"], epoch=at["epoch"],
                   evidence={**ev, "at": where_text(s, last)}, actions=actions, references=references,
                   detector=NAME)


def _chance_finding(history: History, ev: dict[str, Any]) -> Finding:
    """The warning for a held-out set at chance level (:func:`_at_chance`)."""
    loss: Series = ev.pop("loss")
    acc: Series = ev.pop("acc")
    c = ev["classes"]
    train_acc = series_or_none(history, "train", "acc")
    also = ""
    if train_acc is not None and len(train_acc.finite()) >= 2:
        tv = train_acc.finite().values
        if tv[-1] - tv[0] > 0:
            also = (f"; {train_acc.name} rose {tv[0]:.3g} → {tv[-1]:.3g}, but nothing of it reaches the held-out "
                    "set")
    lo, hi = ev["loss_range"]
    span = f"{lo:.4g}" if f"{lo:.4g}" == f"{hi:.4g}" else f"{lo:.4g}–{hi:.4g}"
    msg = (f"{loss.name} stays at ln({c}) = {ev['ln_classes']:.3g} ({span}) and {acc.name} at most "
           f"{ev['accuracy_max']:.3g} (chance: 1/{c} = {1 / c:.3g}) at all {ev['evaluations']} evaluations: the "
           f"model predicts at chance level on the held-out set{also}")
    actions = (
        "check the inputs and labels reach the model as intended (labels shuffled against inputs, a class "
        "index offset, validation preprocessing that differs from training)",
        "check the evaluation itself: the metric's inputs, the model in eval mode, the right checkpoint",
        "overfit a single batch first: a model that cannot drive one batch's loss to zero has a bug",
    )
    return _warning(loss, msg, ev, actions)


def _share(s: Series) -> bool:
    """Whether ``s`` is a held-out share in [0, 1] (:data:`gapwatch.monitor.BOUNDED_MEASURES`)."""
    from ..monitor import BOUNDED_MEASURES

    r = role_of(s.split, s.metric)
    if s.split == "train" or r.role != "task" or task_family(r.measure) not in BOUNDED_MEASURES:
        return False
    v = s.finite().values
    return bool(v.size) and float(v.min()) >= 0.0 and float(v.max()) <= 1.0


def _never_above_zero(history: History, monitor: Monitor | None, p: dict[str, Any]) -> Finding | None:
    """The deciding share never exceeded ``zero_max_value`` (module docstring, "Never above zero")."""
    try:
        mon = decide(history, monitor).monitor
    except InputError:
        return None
    s = series_or_none(history, mon.split, mon.metric)
    if s is None or mon.mode != "max" or not _share(s):
        return None
    v = s.finite()
    if not _enough_zero(v.values, p) or float(v.values.max()) > p["zero_max_value"] or _rising(v.values, p):
        return None
    msg = (f"{v.name} never rose above {float(v.values.max()):.3g} in {len(v)} evaluations: the model never did the "
           "task on the held-out set")
    actions = (
        "check the labels reach the model (a detector with no training boxes, masks that are all background, a "
        "class index offset)",
        "check the evaluation itself: the metric's inputs, the model in eval mode, the right checkpoint",
        "overfit a single batch first: a model that cannot drive one batch's loss to zero has a bug",
    )
    ev = {"mode": "never_above_zero", "series": [v.name], "evaluations": len(v),
          "max_value": float(v.values.max())}
    return _warning(v, msg, ev, actions)


def _enough_zero(v: np.ndarray, p: dict[str, Any]) -> bool:
    """Whether share values ``v`` (finite, shape ``(n,)``) are enough evaluations to say "never above zero":
    ``zero_min_evaluations``, or ``zero_exact_min_evaluations`` when every one is exactly 0."""
    return v.size >= p["zero_min_evaluations"] or (v.size >= p["zero_exact_min_evaluations"] and not v.any())


def _rising(v: np.ndarray, p: dict[str, Any]) -> bool:
    """Whether share values ``v`` (shape ``(n,)``, in order) are clearly rising at the end: the last is the best
    and above 0, and the Mann-Kendall test finds an increasing trend at level ``zero_rising_p``."""
    if v.size < 3 or float(v[-1]) <= 0.0 or float(v[-1]) < float(np.max(v)):
        return False
    return mann_kendall(v)[1] <= p["zero_rising_p"]


def _head_never_above_zero(history: History, monitor: Monitor | None, p: dict[str, Any]) -> Finding | None:
    """The task head beside a box head never left zero (module docstring, "Never above zero"): the deciding
    series is the box head's share (``box_<metric>``) and the task head's own shares of the same split
    (``<metric>`` and the head's other mAP) never exceeded ``zero_max_value`` in ``zero_min_evaluations`` or more
    evaluations — a pose model whose keypoint mAP is 0 at every epoch while its boxes learn."""
    try:
        mon = decide(history, monitor).monitor
    except InputError:
        return None
    if not mon.metric.startswith("box_") or mon.mode != "max":
        return None
    heads = [s for m in dict.fromkeys((mon.metric[4:], "map50", "map50_95"))
             if (s := series_or_none(history, mon.split, m)) is not None and _share(s)]
    if not heads or any(not _enough_zero(s.finite().values, p) for s in heads) \
            or any(_rising(s.finite().values, p) for s in heads):
        return None
    top = max(float(s.finite().values.max()) for s in heads)
    if top > p["zero_max_value"]:
        return None
    head = next((name for loss, name in HEAD_LOSSES if series_or_none(history, mon.split, loss) is not None
                 or series_or_none(history, "train", loss) is not None), "task")
    v = heads[0].finite()
    names = " and ".join(s.name for s in heads)
    msg = (f"{names} never rose above {top:.3g} in {len(v)} evaluations while {mon.split}_{mon.metric} learned: "
           f"the {head} head never did its task on the held-out set (judged here by the box head's metric)")
    actions = (
        f"check the {head} labels reach the model (keypoints or masks present in the label files, the right "
        "number of keypoints / the dataset YAML's kpt_shape, no empty label files)",
        f"check the {head} loss weight and that the model is the {head} variant of the architecture",
        "overfit a single batch first: a head that cannot drive one batch's loss down has a bug",
    )
    ev = {"mode": "head_never_above_zero", "series": [s.name for s in heads], "evaluations": len(v),
          "max_value": top, "head": head, "beside": f"{mon.split}_{mon.metric}"}
    return _warning(v, msg, ev, actions)


def _auc_at_chance(history: History, monitor: Monitor | None, p: dict[str, Any]) -> Finding | None:
    """A held-out ROC-AUC of the deciding split within ``auc_chance_margin`` of 0.5 at every one of its
    ``auc_min_evaluations`` or more evaluations (module docstring, "AUC at chance")."""
    try:
        mon = decide(history, monitor).monitor
    except InputError:
        return None
    for (split, metric), s in series_table(history).items():
        r = role_of(split, metric)
        if split != mon.split or r.role != "task" or not r.measure.replace("_", "").startswith(("auc", "auroc",
                                                                                                 "rocauc")):
            continue
        f = s.finite()
        v = f.values
        if v.size < p["auc_min_evaluations"] or float(np.max(np.abs(v - 0.5))) > p["auc_chance_margin"]:
            continue
        msg = (f"{s.name} stayed between {float(v.min()):.3g} and {float(v.max()):.3g} in all {v.size} evaluations: "
               "an AUC of 0.5 is chance whatever the class balance — the model never ranked the held-out positives "
               "above the negatives; it is not learning the task")
        actions = (
            "check the inputs and labels reach the model as intended (features computed, labels aligned with "
            "their examples, not shuffled separately)",
            "check the scores given to the AUC are the model's positive-class scores, not hard labels or the "
            "other class's",
            "overfit a single batch first: a model that cannot drive one batch's loss to zero has a bug",
        )
        ev = {"mode": "auc_at_chance", "series": [s.name], "evaluations": int(v.size), "min": float(v.min()),
              "max": float(v.max())}
        return _warning(f, msg, ev, actions)
    return None


def _own_set(history: History, monitor: Monitor | None) -> list[tuple[SeriesRole, Series]]:
    """``(role, series)`` of every series of the deciding split's own held-out set (not another set evaluated
    beside it), in logged order; empty when no series decides."""
    try:
        mon = decide(history, monitor).monitor
    except InputError:
        return []
    own = role_of(mon.split, mon.metric).heldout_set
    return [(r, s) for (split, metric), s in series_table(history).items()
            if split == mon.split and (r := role_of(split, metric)).heldout_set == own]


def _frozen(history: History, monitor: Monitor | None, p: dict[str, Any]) -> Finding | None:
    """A held-out share of the deciding split with one value at every evaluation (module docstring, "Frozen")."""
    # (the deciding set's own shares only: seqeval's per-entity recall of a rare entity may well repeat)
    own = _own_set(history, monitor)
    learned = any(_share(s) and float(s.finite().values[0]) >= p["saturated_share"] for _, s in own)
    for r, s in own:
        v = s.finite().values
        if _share(s):
            if v.size < min(p["frozen_min_evaluations"], p["frozen_fine_min_evaluations"]) \
                    or not p["zero_max_value"] < float(v[0]) < p["frozen_perfect"]:
                continue  # (frozen at 0: a hard measure beside the deciding one, or the never-above-zero rule's)
            if v.size < p["frozen_min_evaluations"] and not _fine_share(float(v[0]), p):
                continue  # (four repeats of 2/7: a tiny set's share may repeat by chance)
            if v.size < p["frozen_coarse_min_evaluations"] and significant_digits(float(v[0])) < p["frozen_min_digits"]:
                continue  # (``AUC: 0.99`` printed with two decimals: a learning model may repeat it)
            if not np.allclose(v, v[0], rtol=p["frozen_rtol"], atol=0.0):
                continue
            held = int(v.size)
        else:
            # (a loss frozen beside a share that started at saturated_share: learned before the first evaluation)
            held = _frozen_tail(v, p) if r.role == "loss" and not learned else 0
            if held == 0:
                continue
        f = s.finite()
        every = (f"at every one of its {v.size} evaluations" if held == v.size
                 else f"at each of its last {held} of {v.size} evaluations")
        msg = (f"{s.name} is {float(v[-1]):.4g} {every}: the model's predictions on the held-out set never "
               "change (a constant prediction: the majority class, or only background; weights no longer updated) "
               "— it is not learning")
        actions = (
            "check for a constant prediction: class imbalance with an unweighted loss, a dead output layer, "
            "a learning rate of zero or far too high",
            "check the inputs and labels reach the model as intended (normalisation, shuffled label order)",
            "overfit a single batch first: a model that cannot drive one batch's loss to zero has a bug",
        )
        ev = {"mode": "frozen", "series": [s.name], "evaluations": int(v.size), "value": float(v[-1]),
              "frozen_evaluations": held}
        return _warning(f, msg, ev, actions)
    return None


#: Task families of held-out error rates (lower is better, 100% = every unit wrong).
ERROR_RATES = frozenset({"wer", "cer", "ter", "error"})


def _worst_error(history: History, monitor: Monitor | None, p: dict[str, Any]) -> Finding | None:
    """A held-out error rate of the deciding set within ``worst_error_margin`` of 100% at every one of its
    ``worst_error_min_evaluations`` or more evaluations (module docstring, "Error rate at its worst")."""
    for r, s in _own_set(history, monitor):
        if r.role != "task" or task_family(r.measure) not in ERROR_RATES:
            continue
        f = s.finite()
        v = f.values
        if v.size < p["worst_error_min_evaluations"]:
            continue
        full = 100.0 if float(np.max(v)) > 1.5 else 1.0  # (a percentage, or a fraction)
        if float(np.max(np.abs(v / full - 1.0))) > p["worst_error_margin"]:
            continue  # (only 100% itself: a CER of 1.3–1.5 *percent* is no fraction above 1)
        lo, hi = f"{float(np.min(v)):.4g}", f"{float(np.max(v)):.4g}"
        msg = (f"{s.name} was {lo if lo == hi else f'{lo}–{hi}'} at all {v.size} evaluations: every "
               "word, character or example wrong at every evaluation — the model never produced an answer (a "
               "speech model trained with CTC whose outputs collapsed to blanks logs this) — it is not learning")
        actions = (
            "look at a few decoded predictions: empty strings or one repeated token mean a collapsed output",
            "CTC: check the vocabulary and the blank/pad token id, the input lengths against the label lengths, "
            "and a learning rate that is not far too high for the pretrained encoder",
            "overfit a single batch first: a model that cannot drive one batch's error down has a bug",
        )
        ev = {"mode": "worst_error", "series": [s.name], "evaluations": int(v.size), "min": float(np.min(v)),
              "max": float(np.max(v))}
        return _warning(f, msg, ev, actions)
    return None


def _unit_loss(history: History, monitor: Monitor | None, p: dict[str, Any]) -> Finding | None:
    """The deciding set's held-out loss within ``unit_loss_tol`` of 1.0 at every one of its
    ``unit_loss_min_evaluations`` or more evaluations, the training loss's first and last values too (module
    docstring, "Unit-variance loss")."""
    tol = p["unit_loss_tol"]
    tr = series_or_none(history, "train", "loss")
    t = tr.finite().values if tr is not None else np.empty(0)
    if t.size < 2 or abs(float(t[0]) - 1.0) > tol or abs(float(t[-1]) - 1.0) > tol:
        return None
    for r, s in _own_set(history, monitor):
        if r.role != "loss":
            continue
        f = s.finite()
        v = f.values
        if v.size < p["unit_loss_min_evaluations"] or float(np.max(np.abs(v - 1.0))) > tol:
            continue
        msg = (f"{s.name} stayed at 1.0 ± {tol:g} at all {v.size} evaluations ({float(v.min()):.4g}–"
               f"{float(v.max()):.4g}), the training loss too ({float(t[0]):.4g} → {float(t[-1]):.4g}): the "
               "mean-squared error of predicting the mean of a standardised target (or zero noise, in a diffusion "
               "model) — the model learned nothing beyond that constant")
        actions = (
            "overfit a single batch first: a model that cannot drive one batch's loss to zero has a bug",
            "check the targets and inputs reach the model as intended (a target standardised but the inputs "
            "constant or shuffled apart from it; a diffusion model given no timestep or no data)",
            "check the learning rate and that the model's parameters are the ones the optimiser updates",
        )
        ev = {"mode": "unit_loss", "series": [s.name], "evaluations": int(v.size), "min": float(v.min()),
              "max": float(v.max()), "train_first": float(t[0]), "train_last": float(t[-1])}
        return _warning(f, msg, ev, actions, references=(RECIPE, DDPM))
    return None


def _settled_at_chance(history: History, monitor: Monitor | None, p: dict[str, Any]) -> Finding | None:
    """The deciding set's held-out loss over the second half of its ``chance_settled_min_evaluations`` or more
    evaluations within ``chance_settled_tol`` of ln C for one whole C from 2 to ``chance_settled_max_classes``, the
    training loss over the second half of its values within ``chance_settled_train_tol`` of the same ln C, and the
    set's accuracy (when logged) not rising over that stretch (Mann-Kendall, ``chance_rising_p``): both losses went
    to the cross-entropy of a uniform guess over C classes and stayed there (module docstring, "Settled at
    chance"). Unlike "At chance", the losses may start anywhere: a model that first unlearns its random
    initialisation's confident errors settles at ln C from above."""
    tr = series_or_none(history, "train", "loss")
    if tr is None:
        return None
    t = tr.finite().values
    for r, s in _own_set(history, monitor):
        if r.role != "loss" or s.metric != "loss":
            continue
        f = s.finite()
        v = f.values
        if v.size < p["chance_settled_min_evaluations"] or t.size < 4:
            continue
        half, t_half = v[v.size // 2:], t[t.size // 2:]
        level = float(np.mean(half))
        if not np.log(1.5) < level < np.log(p["chance_settled_max_classes"] + 0.5):
            continue
        classes = int(round(float(np.exp(level))))
        ln_c = float(np.log(classes))
        off, t_off = float(np.max(np.abs(half - ln_c))), float(np.max(np.abs(t_half - ln_c)))
        if off > p["chance_settled_tol"] * ln_c or t_off > p["chance_settled_train_tol"] * ln_c:
            continue
        acc = series_or_none(history, s.split, "acc")
        if acc is not None:
            a = acc.finite().values
            if a.size >= 4 and mann_kendall(a[a.size // 2:])[1] <= p["chance_rising_p"]:
                continue  # (learning while the loss has not moved yet)
        msg = (f"{s.name} settled at ln {classes} = {ln_c:.4f} (the cross-entropy of a uniform guess over {classes} "
               f"classes) for the last {half.size} of its {v.size} evaluations ({float(half.min()):.4g}–"
               f"{float(half.max()):.4g}), the training loss too ({float(t_half.min()):.4g}–"
               f"{float(t_half.max()):.4g}): the model predicts no better than chance")
        actions = (
            "overfit a single batch first: a model that cannot drive one batch's loss below ln C has a bug",
            "check the inputs and labels reach the model as intended (inputs that carry no signal, labels shuffled "
            "apart from the inputs, a frozen or detached model)",
            "check the learning rate: too high collapses the output to the class prior, too low never leaves it",
        )
        ev = {"mode": "settled_at_chance", "classes": classes, "ln_classes": ln_c, "series": [s.name, tr.name],
              "evaluations": int(v.size), "judged": int(half.size), "loss_range": [float(half.min()),
                                                                                  float(half.max())]}
        return _warning(f, msg, ev, actions)
    return None


def _fine_share(x: float, p: dict[str, Any]) -> bool:
    """Whether share ``x`` (in (0, 1)), printed with ``frozen_fine_digits`` significant digits or more, is k/N for
    no N below ``frozen_fine_grid`` (to float32's precision): the share of a set of that many examples or more."""
    if significant_digits(x) < p["frozen_fine_digits"]:
        return False
    n = np.arange(1, int(p["frozen_fine_grid"]))
    return not bool(np.any(np.abs(x * n - np.round(x * n)) <= n * 2e-7))


def _frozen_tail(v: np.ndarray, p: dict[str, Any]) -> int:
    """How many of a held-out loss's last evaluations (finite values ``v``, shape ``(n,)``) hold one value (to
    ``frozen_rtol``) when that is ``frozen_loss_min_evaluations`` or more and at least half of them, and the
    value needs ``frozen_loss_min_digits`` significant digits; else 0. A learning model's loss never repeats to
    the digit; weights that stopped changing (a learning rate decayed to nothing after a blow-up) repeat it at
    every evaluation from then on. A tail that still falls at every evaluation, however little, is a noiseless
    curve converging (a property test's geometric decrements), not a frozen one."""
    if v.size < p["frozen_loss_min_evaluations"] or significant_digits(float(v[-1])) < p["frozen_loss_min_digits"]:
        return 0
    last = float(v[-1])
    if last < float(v[0]) - p["frozen_loss_max_gain"] * abs(float(v[0])):
        return 0  # (it learned, then stopped changing: underfitting's "flatlined" judges that)
    same = np.isclose(v, last, rtol=p["frozen_rtol"], atol=0.0)
    held = int(v.size) if same.all() else int(v.size - 1 - np.flatnonzero(~same)[-1])
    if held >= 2 and bool(np.all(np.diff(v[-held:]) < 0)):
        return 0  # (still falling at every evaluation, by less than frozen_rtol: converging, not frozen)
    return held if held >= p["frozen_loss_min_evaluations"] and 2 * held >= v.size else 0


@register_detector(NAME)
def check(history: History, *, monitor: Monitor | None = None, **params: Any) -> list[Finding]:
    """Find a run whose held-out series never beat their first evaluation, sit at chance level, never left zero
    or never change (module docstring)."""
    p = validate(NAME, SPECS, params)
    chance = _at_chance(history, monitor, p)
    if chance is not None:
        return [_chance_finding(history, chance)]
    for rule in (_never_above_zero, _head_never_above_zero, _auc_at_chance, _frozen, _worst_error, _unit_loss,
                 _settled_at_chance):
        hit = rule(history, monitor, p)
        if hit is not None:
            return [hit]
    found = _deciding_set(history, monitor)
    if not found or any(len(s) < p["min_evaluations"] for s, _ in found):
        return []
    share = any(_bounded(s, sign) and _no_progress(s, sign, p) for s, sign in found)
    if not all(_no_progress(s, sign, p, share) for s, sign in found) or _train_learns(history, p):
        return []
    if any(sign < 0 and float(s.values[0]) >= p["saturated_share"] and float(np.max(s.values)) <= 1.0
           for s, sign in found):
        return []  # (converged before its first evaluation)
    if any(sign < 0 and task_family(s.metric) == "auc" and p["auc_learned"] <= float(s.values[0]) <= 1.0
           for s, sign in found):
        return []  # (an AUC far above chance at its first evaluation: learned before it)
    parts = [f"{s.name} {s.values[0]:.4g} → {s.values[-1]:.4g}" for s, _ in found]
    main = found[0][0]
    tr = series_or_none(history, "train", "loss")
    also = (f", and the training loss fell by less than {100 * p['max_train_drop']:.0f}% of its first value"
            if tr is not None and len(tr.finite()) >= 2 else "")
    msg = (f"no held-out series got better than at its first evaluation by more than its noise in {len(main)} "
           f"evaluations ({', '.join(parts)}){also}: the model is not learning")
    actions = (
        "overfit a single batch first: a model that cannot drive one batch's loss to zero has a bug",
        "check the inputs and labels reach the model as intended (normalisation, shuffled label order, a "
        "frozen or detached model, a zero or far too high learning rate)",
        "check the evaluation itself: the metric's inputs, the model in eval mode, the right checkpoint",
    )
    ev = {"mode": "not_learning", "series": [s.name for s, _ in found], "evaluations": len(main),
          "first": [float(s.values[0]) for s, _ in found], "final": [float(s.values[-1]) for s, _ in found]}
    return [_warning(main, msg, ev, actions)]
