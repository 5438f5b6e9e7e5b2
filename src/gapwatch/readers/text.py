"""Plain-text training logs: what training scripts print, saved with ``python train.py | tee train.log``.

Forms read (one record per epoch; values as printed)::

    Epoch 3: Train Loss=0.41, Val Loss=0.58                       (a print in a hand-written loop)
    Epoch [3/50] | Train Loss: 0.41 Acc: 0.88 | Val Loss: 0.58 Acc: 0.81
    epoch 3 | loss 0.41 | val_loss 0.58                           (name-space-value fields)
    Epoch 3/50                                                    (Keras / tqdm stdout: the epoch on its own
    100/100 [====] - 1s 10ms/step - loss: 0.41 - val_loss: 0.58    line, the metrics on the progress line)
    Epoch 3: 100%|████| 100/100 [00:10<00:00, v_num=0, train_loss=0.41, val_loss=0.58]
    | Epoch | Train Loss | Val Loss | Val Acc |                      (a Markdown table of results)
    |-------|------------|----------|---------|
    | 3     | 0.41       | 0.58     | 81.2%   |

* **The Swin Transformer's logger** (its ``create_logger``, copied by many research repositories):
  ``[2025-10-20 20:55:02 name](main.py 186): INFO Train: [3/50]\tlr …\tloss 1.92 (2.24)\t…`` marks epoch 3 (as
  printed), ``Validate: \tLoss 1.98 (1.88)\tAcc@1 25.0 (23.9)`` measures the validation set, and `` * Val Acc
  23.9 Val Loss 1.87`` summarises; of ``value (running mean)`` the running mean is read.
* **ANSI escape sequences** (colours in a captured terminal: W&B's ``output.log``) are removed first.
* **Logging prefixes** are dropped first: ``2025-10-18 21:47:28,335 - src.train - INFO - `` (the ``logging``
  format ``%(asctime)s - %(name)s - %(levelname)s - ``), ``[2025-10-18 21:47:28] INFO: ``, ``INFO:__main__:``.
* **A split before the measurements** names them: ``Validation - Loss: 0.69, F1: 0.28`` → ``Validation Loss``,
  ``Validation F1``, also after an epoch marker and with a word between (``Epoch [3/150]: Test Stats: Acc: 0.41
  Loss: 2.5`` → ``Test Acc``, ``Test Loss``); a heading such as ``📊 Evaluation Results:`` makes the indented
  ``Loss: 0.53`` lines after it measurements of that split (until a line that is not indented).
* **OpenMMLab** logs (mmengine ``2023/05/01 10:00:00 - mmengine - INFO - Epoch(train) [3][100/150]  lr: …  loss:
  …`` and mmcv ``Epoch [3][100/150]\\tlr: …, loss: …``): ``Epoch(val) [3][500/500]  coco/bbox_mAP: …`` measures
  the validation set; the iteration in the second bracket is within the epoch (the last values win).
* **Epoch markers** start a line (after a timestamp or a ``INFO``-style prefix): ``Epoch 3``, ``epoch 3/50``,
  ``Epoch [3/50]``, ``Epoch: 3``, with a split before it (``Train Epoch: 3 [12800/60000 (21%)]\\tLoss: 0.12``, the
  PyTorch examples; ``Valid Epoch: 3`` measures the validation set). The number is taken as written (Keras and most
  loops print 1-based epochs). A marker followed by prose (``Epoch 00008: early stopping``, ``Epoch 3: val_loss
  improved from …``) is not an epoch; one followed by ``|`` fields without measurements (``Epoch: 01 | Epoch Time:
  0m 53s``) is, and the next lines' measurements belong to it.
* **Counts**: ``Accuracy: 9835/10000 (98%)`` is the ratio 0.9835.
* **Per-class lists**: ``Pseudo dice [0.8766, 0.9012]`` (nnU-Net v2), ``Average global foreground Dice: [0.87,
  0.90]`` (nnU-Net v1) are the mean of the list, as nnU-Net averages them itself.
* **COCO evaluation** (pycocotools' summary, printed by YOLOX, DETR, torchvision's detection references):
  `` Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.350`` is the validation set's
  ``mAP`` (``mAP50``, ``mAP75`` for IoU 0.50, 0.75) of the current epoch (:data:`COCO_SERIES`); the per-area and
  recall lines, and ``-1`` (no ground truth), are not read.
* **detectron2** (``[11/18 14:34:46] d2.utils.events INFO:  eta: …  iter: 999  total_loss: 0.17 …`` step records):
  its evaluation summary ``copypaste: Task: bbox`` / ``copypaste: AP,AP50,…`` / ``copypaste: 10.97,22.44,…`` is
  the validation set's ``bbox_AP``, ``bbox_AP50``… (:data:`_COPYPASTE`); its inference timings (``0.0392 s/iter``,
  like every value printed with a rate unit) are not measures.
* **Boosting rounds**: LightGBM's and XGBoost's ``[120]\\ttraining's binary_logloss: 0.21\\tvalid_1's
  binary_logloss: 0.35`` / ``[120]\\ttrain-rmse:0.41\\teval-rmse:0.52`` are step records (the round in brackets
  before a tab; a possessive ``'s`` is dropped from the set's name).
* **Printed dicts**: the Hugging Face ``Trainer``'s stdout (``{'loss': 0.41, 'learning_rate': 5e-05, 'epoch':
  0.25}``, ``{'eval_loss': 0.58, 'eval_accuracy': 0.81, 'epoch': 1.0}``, often glued to a tqdm bar) is one record
  per dict, read as literals (:func:`ast.literal_eval`); the closing ``train_runtime`` summary is skipped.
* **Pairs**: ``name: value`` / ``name=value`` (a name of up to three words: ``Train Loss``; a closing unit or
  summary in parentheses is dropped: ``Val Acc (%): 71.2`` is ``Val Acc``), and, in a field
  made only of them, ``name value``. A pair counts only when what follows it is a separator (``,`` ``;``
  ``|`` `` - `` brackets, ``%``) or another pair: ``Loading data: 5000 samples`` is prose.
* **Progress bars** rewritten in place (``\\r`` and backspaces in a captured terminal, or updates glued on one
  line) are read update by update; the last value of a name in an epoch wins (Keras's final update holds the
  epoch's means and the validation values).
* A bare name after a split-named one in the same ``|``-field inherits its split: ``Test Loss: 0.15 Acc: 0.95``
  → ``test_acc``. Names are then read with :func:`gapwatch.names.normalize_columns`.
* **Step records**: a log that prints no epoch marker but lines with a step (``Step 100, Loss: 0.0511``, the
  ``step``/``global_step``/``iter`` names) is read step by step; lines after a step line without one (``Validation
  - Loss: 0.1996, F1: 0.9995`` at the end of an epoch) belong to that step's record. Once an epoch marker is seen
  the log is read by epochs, as above, and the step records before it are dropped.
* **Glued lines**: a logging timestamp inside a line (a tqdm bar without a newline before a log line) starts a
  new segment; a tqdm bar's ``Training:  95%|█████|`` is not a measurement.
* **No markers at all**: a log whose lines carry measurements but never an epoch or a step (``Log > train_acc:
  0.80 - val_acc: 0.70 - train_loss: 0.41 - val_loss: 0.58``) is read as one record per epoch, numbered from 1;
  a record ends where a name repeats (at least :data:`MIN_NUMBERED_RECORDS` records and one held-out measure).
  A progress bar rewritten in place (``\\r``) counts once, with its last state: a log of tqdm bars alone
  (``100%|████| 391/391 [00:20<00:00, loss=0.52, acc=0.81]``) is read one bar per record.
* **Any other phrasing**: when these rules find no held-out series, the file's own repeated line layouts are read
  (:mod:`._templates`: ``  VAL step 4000: PSNR 27.5  SSIM 0.74`` printed every 1000 steps is a template whose
  slots are named by the words before them), and used when they hold a held-out series; the run gets a note that
  says so and lists the series read.
* Several trainings appended to one log (the epoch goes back to its first value) are runs ``<run>#1``,
  ``<run>#2``… with a note.

Lines are read at most :data:`gapwatch.guardlog.MAX_LINE_CHARS` characters at a time. Recognised (last of all
formats) by at least one record (epoch, step or numbered) with a known measure (``loss``, ``acc``…) in the first
64 KiB. In a sweep, documents and code (:data:`NOT_LOGS_IN_SWEEPS`: ``README.md``, ``train.py``…) are not read as
text logs even when they quote one; given as the path, they are.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .. import guardlog, schedule
from ..errors import InputError
from ..history import HistoryNote
from ..names import SPLIT_ALIASES, is_measure, is_running_best, normalize, ranking_at_k
from ._parts import Parts, records_parts, restart_note, restarts
from ._templates import ENTITY_COUNTERS, template_records
from ._ultralytics_console import UltralyticsConsole
from .base import HEAD_BYTES, FunctionReader, text_encoding

NAME = "text"

_NUM = r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|NaN|inf|Inf|Infinity)"
_WORD = r"[A-Za-z][\w.()/\-]*(?:@\d+)?"  # (``Acc@1``, ``R@10``: a measure at a rank cut-off)
#: A parenthesised qualifier closing a name: ``Eval Acc (total): 0.88``, ``Error (MPJPE): 45.1``, the unit of a
#: percentage ``Val Acc (%): 71.2``.
_QUALIFIER = r"(?:[ \t]*\((?:%|[A-Za-z][\w.@+\-]{0,30})\))"
_COLON_PAIR = re.compile(rf"(?<![\w.])({_WORD}(?:[ \t]+{_WORD}){{0,2}}{_QUALIFIER}?)\s*[:=]\s*({_NUM})(?![\w.:/])")
#: Qualifiers that say which summary of the measure is printed, or its unit, not which measure: ``Eval Acc
#: (total)`` and ``Eval Acc (%)`` are the evaluation's accuracy.
_SUMMARY_QUALIFIER = re.compile(r"[ \t]*\((?:total|overall|all|avg|average|mean|%)\)$", re.IGNORECASE)
_SPACE_PAIR = re.compile(rf"({_WORD})\s+({_NUM})(?![\w.:/])")
_SPACE_FIELD = re.compile(rf"(?:\s*{_WORD}\s+{_NUM}(?![\w.:/])%?)+\s*")
#: One ``name value`` item of a comma-separated field: ``train loss 2.1``, ``mfu 4.51%``.
_SPACE_ITEM = re.compile(rf"\s*({_WORD}(?:[ \t]+{_WORD}){{0,2}})[ \t]+({_NUM})%?\s*")
_SEPARATORS = re.compile(r"[\s,;|\-\[\]()%#]*")
# (two or more spaces between fields count as a separator: ``loss=0.1252  time=20.7s  HR@10: 0.6978``)
_BOUNDARY = re.compile(r"[\-,;:\[\](\t>]\s*$|\S {2,}$")
_FOLLOWED = re.compile(r"[%)\]]*\s*[,;|\t]|\s+-\s|[%)\]]* {2,}(?=[A-Za-z(])|\s+\([^()]*\)\s*$")
_MARKER = re.compile(
    r"^[^A-Za-z\r\n]*(?:(?:INFO|DEBUG|WARNING|WARN|NOTICE)\b[^A-Za-z]*(?:[\w.]+\s*[:\-]+\s*)?)?"
    r"(?:(train(?:ing)?|val(?:id|idation|idating)?|eval(?:uation|uating)?|test(?:ing)?)(?:[\])]?\s+|[\])]\s*[\[(])"
    r"(?:(?:in|on|at)\s+)?)?"
    r"epoch(?![A-Za-z_])(?:\((train|val|test)\))?\s*[:#]?\s*[\[(]?\s*(\d+)\s*(?:/\s*\d+\s*)?[\])]?", re.IGNORECASE)
#: A Python dict of numbers printed on a line (no nested braces): ``{'eval_loss': 0.58, 'epoch': 1.0}``.
_PRINTED_DICT = re.compile(r"\{\s*'[A-Za-z_][\w/.\-]*'\s*:[^{}]*\}")
#: A ``|`` field that is only a split: ``| valid |``, ``| valid on 'valid' subset |`` (fairseq).
_SPLIT_FIELD = re.compile(r"(?:^|\|)\s*(train(?:ing)?|val(?:id|idation|idating)?|dev|test)"
                          r"(?:\s+on\s+'?[\w.\-]+'?\s+subset)?"
                          r"\s*(?=\||$)", re.IGNORECASE)
#: ``correct/total (percent%)`` as printed by the PyTorch examples (``Accuracy: 9835/10000 (98%)``): the ratio.
_COUNT_RATIO = re.compile(r"(?<![\w.])(\d{1,15})/(\d{1,15})\s*\(\s*\d+(?:\.\d+)?\s*%\s*\)")
#: The iteration after an OpenMMLab epoch marker: ``Epoch(val) [1][500/500]`` → ``[500/500]``.
_ITER_BRACKET = re.compile(r"^\s*\[\s*\d+\s*(?:/\s*\d+\s*)?\]")
_SEGMENTS = re.compile(r"[\r\x08]+")
#: A tqdm bar's percentage and bar (``Training:  95%|█████▌   |``): not measurements (without them the
#: description ``Training:`` is followed by no number, so it is no pair either). Linear time on any line.
_TQDM_BAR = re.compile(r"(?<![\d.])\d{1,3}%\|[^|]*\|")
#: A logging timestamp inside a line (a progress bar and a log line glued by ``\r``-less output): a new segment.
_GLUED_STAMP = re.compile(r"(?<=[^\s\[])(?=\[?\d{4}[-/]\d\d[-/]\d\d[T ]\d{1,2}:\d\d:\d\d)")
#: A step printed before the measurements of a line: ``Step 100, Loss: 0.0511``, ``iter 200 | loss 0.3``.
_STEP_MARKER = re.compile(r"(?<![\w.])(?:global[ _]step|step|iter(?:ation)?)\s*[:#=]?\s*\[?(\d+)(?:\s*/\s*\d+)?\]?"
                          r"\s*[,;|:\-]|^\s*\[(\d+)\]\t", re.IGNORECASE)
#: LightGBM's evaluation sets as possessives: ``training's binary_logloss: 0.51`` → ``training binary_logloss``.
_POSSESSIVE = re.compile(r"(?<=[A-Za-z0-9_])'s\s")
_LEVEL = r"\[?(?:INFO|DEBUG|WARNING|WARN|NOTICE|ERROR|CRITICAL)\]?"
#: A logging prefix before the message: ``2025-10-18 21:47:28,335 - src.train - INFO - `` (the ``logging``
#: format ``%(asctime)s - %(name)s - %(levelname)s - ``), ``[2025-10-18 21:47:28] INFO: ``, ``INFO:__main__:``,
#: loguru's ``2021-07-20 12:00:00.123 | INFO     | module:function:260 - ``, OpenNMT-py's ``[2024-05-08 04:06:28,463
#: INFO] ``, Airflow's ``[2022-03-01 10:00:00,123] {train.py:45} INFO - ``, PaddleClas's ``[2022/10/07 21:47:28] ppcls
#: INFO: ``.
_LOG_PREFIX = re.compile(
    # the Swin Transformer's ``create_logger``, copied by many research repositories:
    # ``[2025-10-20 20:55:02 alexnet](main.py 186): INFO ``
    # (a line is cut before a timestamp glued to text, :data:`_GLUED_STAMP`: the ``[`` may be on the piece before)
    rf"^\s*(?:\[?\d{{4}}-\d\d-\d\d \d{{1,2}}:\d\d:\d\d [\w.\-]+\]\([\w.\-]+ \d+\):\s*{_LEVEL}\s+|"
    # OpenNMT-py (``[%(asctime)s %(levelname)s]``): ``[2024-05-08 04:06:28,463 INFO] ``
    r"\[\d{4}[-/]\d\d[-/]\d\d[T ]\d{1,2}:\d\d:\d\d(?:[.,]\d+)?\s+"
    r"(?:INFO|DEBUG|WARNING|WARN|NOTICE|ERROR|CRITICAL)\]\s*|"
    # (BasicSR's ``%y-%m-%d``: ``23-05-05 21:25:37.738 - INFO: ``)
    # (or a time of day alone: ``23:36:02 | INFO     | ``)
    r"(?:\[?(?:(?:\d{4}|\d\d)[-/]\d\d[-/]\d\d[T ]\d{1,2}:\d\d(?::\d\d(?:[.,]\d+)?)?|"
    r"\d{1,2}:\d\d:\d\d(?:[.,]\d+)?(?=\]?\s*[-|]?\s*\[?(?:INFO|DEBUG|WARNING|WARN|NOTICE|ERROR|CRITICAL)\b))"
    r"\]?\s*(?:[-|:]\s*)?)?"
    # loguru's default (YOLOX): ``2021-07-20 12:00:00 | INFO     | yolox.core.trainer:260 - ``
    # Airflow's ``[%(asctime)s] {%(filename)s:%(lineno)d} %(levelname)s - ``: ``[2022-03-01 10:00:00,123]
    # {train.py:45} INFO - `` (a notebook's logger: ``[{3667621017.py:45} INFO - ``)
    rf"(?:\[?\{{[\w.<>\-]+:\d+\}}\s*{_LEVEL}\s*-\s*|"
    # (a logger named by a path: ``- /Users/me/ner/log/train.log - INFO - ``, ``- log\\train.log - INFO - ``)
    rf"[\w.<>/\\:~\-]+(?:\[[\w:]+\])?\s+-\s+{_LEVEL}\s*[-|:]\s*|{_LEVEL}\s*:\s*[\w.<>]+\s*:|"
    # (PaddlePaddle's loggers, a name and the level: ``[2022/10/07 21:47:28] ppcls INFO: ``)
    rf"[\w.]+\s+{_LEVEL}:\s+|"
    # (tab-separated fields, ``%(asctime)s\t%(name)s\t%(levelname)s\t%(message)s``: ``… 16:01:49,869\troot\tINFO\t``)
    rf"(?:[\w.<>]+\t+)?{_LEVEL}\t+|"
    rf"{_LEVEL}\s*\|\s*[\w.<>]+(?::[\w.<>]+)*:\d+\s+-\s+|{_LEVEL}\s*[-|:]\s*)?)")
#: The Swin logger's lines (its training script, copied by many repositories): ``Train: [3/50][100/391]\t…`` (an
#: epoch marker, then tab-separated ``name value (running mean)`` fields), ``Validate: \tLoss 1.98 (1.88)\t…``
#: (the same fields of the validation set), `` * Acc@1 81.2 Acc@5 95.3`` or `` * Val Acc 23.9 Val Loss 1.87``
#: (the epoch's summary).
_SWIN_TRAIN = re.compile(r"^\s*train(?:ing)?\s*:\s*\[\s*(\d+)\s*/\s*\d+\s*\](?:\s*\[\s*\d+\s*/\s*\d+\s*\])?\s*\t",
                         re.IGNORECASE)
_SWIN_EVAL = re.compile(r"^\s*(validate|test|eval(?:uate)?)\s*:\s*(?:\[\s*\d+\s*/\s*\d+\s*\])?\s*\t", re.IGNORECASE)
_SWIN_SUMMARY = re.compile(r"^\s*\*\s+(?=[A-Za-z])")
_NUMBER = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_SWIN_FIELD = re.compile(rf"^\s*([A-Za-z][\w@]*(?:\s+[A-Za-z][\w@]*){{0,2}})\s+({_NUMBER})%?"
                         rf"(?:\s*\(\s*({_NUMBER})\s*\))?\s*$")
_SWIN_PAIR = re.compile(rf"([A-Za-z][\w@]*(?:\s+[A-Za-z][\w@]*){{0,2}})\s+({_NUMBER})%?(?=\s|$)")
#: A split named before the measurements of a line: ``Validation - Loss: 0.69, F1: 0.28`` → ``Validation Loss``…
_SPLIT_LEAD = re.compile(r"^(\W*)((?:[A-Za-z][A-Za-z0-9]*[_\-])?"  # (a set's label before it: ``cv22_test: WER=…``)
                         r"(?:train(?:ing)?|val(?:id|idation|idating)?|eval(?:uation|uating)?|dev|test(?:ing)?))"
                         r"(?:\s+(?:stats|statistics|metrics|results|scores|set|performance))?\s*[-:|#]\s*"
                         r"(?=[A-Za-z][\w ./\-@]*[:=]\s*[-+.\d])", re.IGNORECASE)
#: A heading that opens a block of indented measurements of one split: ``📊 Evaluation Results:``.
_BLOCK_HEAD = re.compile(r"^\W*(train(?:ing)?|val(?:id|idation|idating)?|eval(?:uation|uating)?|dev|test(?:ing)?)"
                         r"\b[\w ]*(?:\.{3}|…+)?:?\s*$",
                         re.IGNORECASE)
#: Words after an epoch marker that make the line the epoch's heading (no measurement, no number): ``- Training
#: Phase``, ``Complete:``, ``started``.
_PHASE_WORDS = re.compile(r"[\s\-:|,.()\[\]A-Za-z]*")
#: A heading that names the evaluated split after the verb: ``evaluate:dev`` (the conlleval-style NER trainers
#: copied by many repositories print it before ``accuracy: 96.79%; precision: 76.20%; … FB1: 73.82``).
_EVALUATE_ON = re.compile(r"^\W*evaluat(?:e|ing)\s*(?:on\s+)?[:\-]?\s*(dev|test(?:ing)?|val(?:id|idation)?)"
                          r"(?:\s+set)?\s*:?\s*$", re.IGNORECASE)
_INDENT = re.compile(r"^(?: {2,}|\t)")
#: The progress counter of an evaluation loop inside a block (PaddlePaddle's ``Model.fit``: ``Eval begin...``, then
#: ``step 10/20 - loss: 0.21 - acc: 0.81``): the block's measurements follow it.
_BLOCK_PROGRESS = re.compile(r"^(?:step|iter|batch)\s+\d+\s*/\s*\d+\s*-\s*", re.IGNORECASE)
#: A line of a printed PyTorch module (``print(model)``): a child ``(fc1): Linear(in_features=16, out_features=8,
#: bias=True)``, or a layer whose settings are torch's keyword names (``Dropout(p=0.5, inplace=False)``,
#: ``MaxPool1d(kernel_size=2, stride=2, padding=0)``) — settings, not measurements.
_MODULE_REPR = re.compile(r"^\s*(?:\([\w.\-]+\):\s*[A-Z]\w*\(|[A-Z]\w*\((?:.*?\b)?(?:in_features|out_features|"
                          r"in_channels|out_channels|kernel_size|stride|padding|inplace|p|dim|start_dim|eps|momentum|"
                          r"affine|num_embeddings|embedding_dim|batch_first|negative_slope|elementwise_affine)=)")
#: A bracketed tag that says the line reports the best model so far (its values are a running best, not a curve).
_BEST_TAG = re.compile(r"^\s*\[[^\]]*\bbest\b[^\]]*\]", re.IGNORECASE)
#: A bracketed tag before a line's epoch marker or measurements (``[SeqAR-Diffusion] Epoch 1/400 Train Loss: …``),
#: not a split (``[val]``) and not an epoch or step counter itself.
_TAG = re.compile(r"^\s*\[(?![^\]]*\b(?:train(?:ing)?|val(?:id|idation)?|eval(?:uation)?|test(?:ing)?|dev|epoch|step|"
                  r"iter)\b)[A-Za-z][^\]\[]{0,40}\]\s*(?=[A-Za-z])", re.IGNORECASE)
_TOKENS = re.compile(r"[\s_/.\-]+")
#: Brackets left empty at the start of a line's rest once its progress counter is taken out (``[Iter: 0/25]``).
_EMPTY_BRACKETS = re.compile(r"^\s*\[\s*\]")
#: Fewest columns of a ``| Epoch | Train Loss | … |`` table (an epoch and one measurement).
MIN_TABLE_COLUMNS = 2
#: Fewest columns of a space-aligned table (its header's names; see :func:`_is_space_header`).
MIN_SPACE_COLUMNS = 3
_UNITS = re.compile(r"\s*\([^)]*\)")
_RULE = re.compile(r":?-{2,}:?|[=+\-]{2,}")
#: Names printed by progress bars that are not measurements.
_IGNORED = frozenset({"v_num", "eta"})
#: pycocotools' summary lines (printed by COCO evaluation in YOLOX, DETR, torchvision's detection references,
#: MMDetection 2): `` Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.350``.
_COCO_LINE = re.compile(r"^\s*Average\s+Precision\s+\(AP\)\s+@\[\s*IoU=([\d.:]+)\s*\|\s*area=\s*all\s*\|"
                        r"\s*maxDets=\s*\d+\s*\]\s*=\s*([-\d.]+)")
#: detectron2's evaluation summary (``d2.evaluation.testing INFO: copypaste: AP,AP50,AP75,APs,APm,APl`` then
#: ``copypaste: 10.9699,22.4369,…``, after ``copypaste: Task: bbox``): the held-out set's ``bbox_AP``….
_COPYPASTE = re.compile(r"(?:^|\s)copypaste:\s*(.*?)\s*$")
#: Which COCO summary lines are read (IoU thresholds → validation series name); the per-area and recall lines
#: are not.
COCO_SERIES = {"0.50:0.95": "val_mAP", "0.50": "val_mAP50", "0.75": "val_mAP75"}
_STEP_NAMES = frozenset({"step", "global_step", "global step", "iter", "iteration"})
#: File extensions a sweep never reads as text logs (documents and code that may quote a log).
NOT_LOGS_IN_SWEEPS = frozenset({".md", ".rst", ".html", ".htm", ".ipynb", ".py", ".tex", ".sh"})
#: Records (epochs) the sniffer must find in the first 64 KiB.
MIN_SNIFF_RECORDS = 1
#: Records a log without any epoch or step marker must hold to be read as one record per epoch.
MIN_NUMBERED_RECORDS = 3


@functools.lru_cache(maxsize=1024)
def _series_of(name: str) -> tuple[str, str]:
    """The (split, metric) a printed name is read as (:func:`gapwatch.names.normalize`)."""
    return normalize(name)


def _split_of(name: str) -> str | None:
    toks = [t for t in _TOKENS.split(name.lower()) if t]
    return toks[0] if toks and toks[0] in SPLIT_ALIASES else None


def _colon_pairs(field: str) -> list[tuple[str, str]]:
    """The ``name: value`` pairs of a field. A pair counts when the text before it (since the field's start or
    the previous pair) is only separators or ends at a boundary (``-`` ``,`` ``;`` ``:`` ``[`` ``(`` ``>`` tab), and
    the text after it is only separators or starts with one (``,`` ``;`` ``|`` tab `` - ``):
    ``Loss on the test set: 0.12`` and ``Loading data: 5000 samples`` are prose."""
    ms = list(_COLON_PAIR.finditer(field))
    names = [_without_unit(field, m) for m in ms]
    out = []
    for j, m in enumerate(ms):
        start = ms[j - 1].end() if j else 0
        end = ms[j + 1].start() if j + 1 < len(ms) else len(field)
        before, after = field[start:m.start()], field[m.end():end]
        if ((_SEPARATORS.fullmatch(before) or _BOUNDARY.search(before))
                and (_SEPARATORS.fullmatch(after) or _FOLLOWED.match(after))):
            out.append((_SUMMARY_QUALIFIER.sub("", names[j][0]), m.group(2)))
    return out


#: Units printed after a value (``time: 1.5 m   valid_acc: 0.84``): a word that follows a number and opens a
#: several-word name is the number's unit, not a word of the next name (``m valid_acc`` read as a measure of a set
#: ``m``).
_UNIT_WORDS = frozenset({"s", "ms", "sec", "secs", "m", "min", "mins", "h", "hr", "hrs"})
_AFTER_NUMBER = re.compile(r"\d\s+$")


def _without_unit(field: str, m: re.Match[str]) -> tuple[str, str]:
    """The name of pair ``m`` without a leading unit of the value before it, and the unit with the spaces after
    it (``("valid_acc", "m   ")``; ``(name, "")`` when the name opens with no unit)."""
    name = m.group(1)
    first, _, rest = name.partition(" ") if " " in name else name.partition("\t")
    if not rest or first.lower() not in _UNIT_WORDS or not _AFTER_NUMBER.search(field, 0, m.start()):
        return name, ""
    rest = rest.lstrip(" \t")
    return rest, name[: len(name) - len(rest)]


def _comma_space_pairs(field: str) -> list[tuple[str, str]]:
    """``train loss 2.1, val loss 2.2`` (nanoGPT's ``step 250: train loss 2.1, val loss 2.2``): comma-separated
    ``name value`` items, a name of up to three words. Read when at least half of the items are such pairs
    (``iter 10: loss 4.2, time 31.20ms, mfu 4.51%`` → loss and mfu), so that prose stays prose."""
    items = [t for t in re.split(r"[,;]", field) if t.strip()]
    if items and ":" in items[0]:
        items[0] = items[0].rsplit(":", 1)[1]  # after a marker: ``step 250: train loss 2.1``
    found = [m for t in items if (m := _SPACE_ITEM.fullmatch(t)) is not None]
    if len(items) < 2 or 2 * len(found) < len(items):
        return []
    return [(m.group(1), m.group(2)) for m in found]


#: A word of a measure's name (:func:`_mixed_pairs`), and a value (with an optional percent sign).
_NAME_WORD = re.compile(rf"{_WORD}")
_VALUE = re.compile(rf"{_NUM}%?")
#: Longest field :func:`_mixed_pairs` reads (a field of measurement items is short; anything longer is prose).
_MIXED_MAX_CHARS = 400


def _mixed_pairs(field: str) -> list[tuple[str, str]]:
    """A field that is two or more measurement items and nothing else, some written ``name: value`` and some
    ``name value`` (``Train Loss: 3288.4 Validate Loss 3408.8``), each name (up to three words) a measure. Read
    token by token (linear in the field's length: a regular expression over such items backtracks without end on
    long runs of word characters)."""
    if len(field) > _MIXED_MAX_CHARS:
        return []
    out: list[tuple[str, str]] = []
    words: list[str] = []
    for tok in field.split():
        colon = tok.endswith(":") and len(tok) > 1
        word = tok[:-1] if colon else tok
        if _VALUE.fullmatch(tok):
            if not words:
                return []
            out.append((" ".join(words), tok.rstrip("%")))
            words = []
        elif _NAME_WORD.fullmatch(word) and len(words) < 3 and not (words and words[-1].endswith(":")):
            words.append(tok)
        else:
            return []
    if words or len(out) < 2:
        return []
    out = [(n.rstrip(":"), v) for n, v in out]
    return out if all(is_measure(n) for n, _ in out) else []


#: Punctuation a printed line may start with before its one measurement (``-- "test accuracy 0.642``).
_LEAD_PUNCT = re.compile(r"^[\s\-\"'*>#=~:]*")


def _lone_split_pair(field: str) -> list[tuple[str, str]]:
    """A field that is one ``split measure value`` item and nothing else — ``test accuracy 0.642``, ``val loss
    0.51`` (``print("test accuracy", acc)``), after leading punctuation: a name of up to three words whose first
    word is a split and that names a measure, so that prose (``epoch 3``, ``batch size 32``) stays prose."""
    m = _SPACE_ITEM.fullmatch(_LEAD_PUNCT.sub("", field))
    if m is None or _split_of(m.group(1)) is None or not is_measure(m.group(1)):
        return []
    return [(m.group(1), m.group(2))]


#: What a ``name value`` line prints beside its measures and that is none: a timing with its unit (``144s``,
#: ``0.8ms``), a trailing new-best mark (``*``), a parenthesised note between a name and its value without digits
#: (``val PR-AUC (cb+ff) 0.003``).
_SPACE_NOISE = re.compile(r"(?<=\s)\d+(?:\.\d+)?(?:s|ms|sec|min)(?=\s|$)|\s\*+(?=\s*$)|(?<=\s)\([^()\d]{1,20}\)(?=\s)")


def _field_pairs(field: str) -> list[tuple[str, str]]:
    pairs = _colon_pairs(field)
    if not pairs:
        spaced = _SPACE_FIELD.fullmatch(field) is not None
        if not spaced:
            quiet = _SPACE_NOISE.sub(" ", field)
            if quiet != field and _SPACE_FIELD.fullmatch(quiet):
                field, spaced = quiet, True  # (``epoch  0  train_loss 0.2584  val_acc 0.9222  144s *``)
        if spaced:
            pairs = [(m.group(1), m.group(2)) for m in _SPACE_PAIR.finditer(field)]
    if not pairs:
        pairs = _comma_space_pairs(field)
    if not pairs:
        pairs = _mixed_pairs(field)
    if not pairs:
        pairs = _lone_split_pair(field)
    split = _split_of(pairs[0][0]) if pairs else None
    out = []
    for name, val in pairs:
        name = " ".join(name.split())
        low = name.lower()
        if low in _IGNORED:
            continue
        own = _split_of(name)
        if own is not None and split is not None and SPLIT_ALIASES.get(split) == "train":
            split = own  # (``train loss: 3.52, val loss: 2.93, accuracy: 55.0``: the accuracy is the validation set's)
        if low in _STEP_NAMES:
            name = "step"
        elif split is not None and own is None and not (SPLIT_ALIASES.get(split.lower()) == "train"
                                                        and ranking_at_k(low)):
            name = f"{split} {name}"  # (not a ranking cut-off after ``Train Loss``: ``Train Loss: 8.92, NDCG@10:
        out.append((name, val))  # 0.0087`` — a recommender evaluates its ranking on held-out interactions)
    return out


def _swin(seg: str) -> tuple[float | None, str | None, dict[str, float]] | None:
    """``(epoch, split, measurements)`` of a Swin-logger line (:data:`_SWIN_TRAIN`), else None. A field's running
    mean (in parentheses) is taken over the batch's value: the epoch's last line then holds the epoch's means."""
    train, ev, summary = _SWIN_TRAIN.match(seg), _SWIN_EVAL.match(seg), _SWIN_SUMMARY.match(seg)
    if train is not None or ev is not None:
        end = train.end() if train is not None else ev.end() if ev is not None else 0
        found: dict[str, float] = {}
        for field in seg[end:].split("\t"):
            f = _SWIN_FIELD.match(field)
            if f is not None and is_measure(f.group(1)):
                found[f.group(1)] = float(f.group(3) if f.group(3) is not None else f.group(2))
        split = None if ev is None else ("val" if ev.group(1).lower().startswith("val") else ev.group(1).lower())
        return (float(train.group(1)) if train is not None else None), split, found
    if summary is not None:
        found = {n: float(v) for n, v in _SWIN_PAIR.findall(seg[summary.end():]) if is_measure(n)}
        return (None, None, found) if found else None
    return None


#: A measure printed as a list of per-class values: ``Pseudo dice [0.8766, 0.9012]`` (nnU-Net v2),
#: ``Average global foreground Dice: [0.87, 0.90]`` (nnU-Net v1) — read as their mean, as nnU-Net itself does.
_MEASURE_LIST = re.compile(rf"(?<![\w.])({_WORD}(?:[ \t]+{_WORD}){{0,3}})[ \t]*[:=]?[ \t]*"
                           rf"\[\s*({_NUM}(?:\s*,\s*{_NUM})*)\s*\]")


def _list_mean(m: re.Match[str]) -> str:
    """A per-class list after a measure's name → ``name: mean`` (other bracketed lists are left alone)."""
    name = m.group(1)
    if not is_measure(name):
        return m.group(0)
    vals = [float(v) for v in m.group(2).split(",")]
    return f"{' '.join(name.split()[-3:])}: {sum(vals) / len(vals)!r}"  # (a name of at most three words)


#: Progress printed after an epoch marker, not measurements: ``iter:0/18`` (the batch within the epoch), a bare
#: ``0.00%`` (not one after ``name:``), ``ETA:0.0min``; removed so that the measurements around them are read
#: (``[train] epoch:1 iter:0/18 0.00% lr:0.000753 loss:0.608553 ETA:0.0min``).
_PROGRESS = re.compile(r"(?<![\w.])(?:(?:iter(?:ation)?|batch|it)\s*[:=]?\s*\d+\s*/\s*\d+"
                       r"|(?:eta|elapsed|remaining)\s*[:=]\s*[\d:.]+\s*(?:min|s|sec|h|ms)?(?![\w.])"
                       r"|(?<![:=]\s)(?<![:=]\s\s)(?<![A-Za-z]\s)(?<=\s)\d{1,3}(?:\.\d+)?%(?=\s|$))", re.IGNORECASE)
#: A bracketed split and epoch counter opening a line: ``[ Train | 001/100 ] loss = 1.65, acc = 0.38`` (the
#: homework template of a widely taught deep-learning course, copied by many repositories) → ``Train epoch 001``.
_SPLIT_COUNTER = re.compile(r"^\s*\[\s*(train(?:ing)?|val(?:id|idation|idating)?|eval(?:uation|uating)?|test(?:ing)?)"
                            r"\s*\|\s*"
                            r"(\d+)\s*/\s*\d+\s*\]", re.IGNORECASE)
#: A measure named "for" its epoch or iteration: ``Test loss for epoch 3: 0.15, Acc = 0.72``, ``Loss for Iter 51:
#: 0.39`` → ``Epoch 3: Test loss: 0.15, …``, ``Iter 51: Loss: 0.39``.
_FOR_COUNTER = re.compile(r"^(\s*)([A-Za-z][A-Za-z0-9_ ]{0,40}?)\s+(?:for|at|of|in|after)\s+"
                          r"(epoch|iter(?:ation)?|step)\s*[:#]?\s*(\d+)\s*[:=]\s*(?=[-+.\d])", re.IGNORECASE)
#: A bare bracketed counter opening a line's measurements, ``[3/1000]: train_auc: 95.0, …`` (the epoch of a log that
#: prints no word for it); read as the epoch only in a log that has shown no other epoch marker.
_COUNTER_LEAD = re.compile(r"^\s*\[\s*(\d+)\s*/\s*\d+\s*\]\s*[:|\-]?\s*(?=[A-Za-z][\w ./\-]*\s*[:=]\s*[-+.\d])")
#: A split tagged in brackets after a line's epoch marker: ``Epoch 1/200 [Val]   loss: 0.36``.
_SPLIT_TAG = re.compile(r"^\s*[\[(]\s*(train(?:ing)?|val(?:id|idation)?|eval(?:uation)?|dev|test(?:ing)?)\s*[\])]\s*",
                        re.IGNORECASE)
#: An epoch counter inside a line: ``…, Epoch: [3/100],Val_PSNR: 28.9`` → ``Epoch: 3,``.
_EPOCH_OF = re.compile(r"(?<![\w.])epoch\s*[:=#]?\s*\[\s*(\d+)\s*/\s*\d+\s*\]", re.IGNORECASE)
#: The abbreviated epoch counter of hand-written prints, always with its total: ``F1 Ep  3/50 | Tr loss=…`` →
#: ``epoch: 3``; a capital ``E`` glued to it too (``[Fold 0] Head E1/6: train_loss=…``).
_EP_OF = re.compile(r"(?<![\w.])(?:[Ee][Pp]\.?\s*[:#]?\s*|E)(\d+)\s*/\s*\d+(?![\w.])")
#: An outer loop's counter followed by the batch within it: ``iteration:51 step:0/2, NER loss:75.5`` (the
#: ChineseNER trainer copied by many repositories counts epochs as iterations) → ``epoch: 51``; the inner
#: ``step k/M`` is progress, not a global step.
_OUTER_INNER = re.compile(r"(?<![\w.])(?:iter(?:ation)?|epoch)\s*[:=#]?\s*(\d+)\s*[,;]?\s+"
                          r"(?:step|batch|iter)\s*[:=]?\s*\d+\s*/\s*\d+\s*[,;]?", re.IGNORECASE)


#: A ``|`` field that is a split and one number, its parts in parentheses after it: ``| train 1.1132 (seg 0.0766,
#: thick 1.0367) | val 1.3223 (…) |`` — the split's loss (its objective, the sum of the parts).
_SPLIT_VALUE_FIELD = re.compile(rf"^\s*(train(?:ing)?|val(?:id|idation)?|eval(?:uation)?|dev|test)\s*[:=]?\s+({_NUM})"
                                r"\s*(?:\([^()]*\))?\s*$", re.IGNORECASE)
#: A whole history printed one series a line, ``val_loss: [0.66, 0.56, 0.64, …]`` (``for k, v in
#: history.history.items(): print(f"{k}: {v}")``), or as a dict of lists on one line (``print(history.history)``;
#: also saved as a JSON string of that print, ``json.dump(str(history.history), f)``: ``"{'loss': [7.12, …]}"``).
_HISTORY_LINE = re.compile(rf"^\s*['\"]?({_WORD})['\"]?\s*:\s*\[\s*({_NUM}(?:\s*,\s*{_NUM})+)\s*\]\s*,?\s*$")
_HISTORY_DICT = re.compile(rf"^\s*\"?\{{\s*'[A-Za-z_][\w/.\-]*'\s*:\s*\[\s*{_NUM}")
#: A split's bare name before a percentage, ``Train: 90.36% | Validation: 92.77%``: its accuracy (a bare split
#: name before a plain number is its loss, :func:`gapwatch.names.normalize`; no loss is printed as a percentage).
#: PyTorch's CIFAR-10 tutorial's print, copied into many training scripts: ``Accuracy of the network on the 10000
#: test images: 54 %`` (``… on the val images: 96 %``) — the split's accuracy.
_NETWORK_ON = re.compile(r"\baccuracy of the (?:network|model|net) on (?:the )?(?:\d+ )?"
                         r"(train(?:ing)?|val(?:id|idation)?|test(?:ing)?|dev|eval(?:uation)?)"
                         r"(?: set)?(?: images| samples| data| examples)?\s*:", re.IGNORECASE)
#: A measure named for its set after it: ``Median Qerror on Validation Set: 3.2``, ``accuracy on the test set =
#: 0.91``, ``Loss on validation data: 0.3`` — read as ``Validation Median Qerror`` (the split first, as the
#: other names). One to three words before ``on``; ``set``/``data``/``dataset``/``split`` after the split's name.
_ON_SET = re.compile(r"(?<![\w-])((?:[A-Za-z][\w-]{0,30}[ \t]+){0,2}[A-Za-z][\w-]{0,30})[ \t]+on[ \t]+(?:the[ \t]+)?"
                     r"(train(?:ing)?|val(?:id|idation)?|test(?:ing)?|dev|eval(?:uation)?)[ \t]+"
                     r"(?:set|data|dataset|split)\b(?=\s*[:=])", re.IGNORECASE)
_SPLIT_PERCENT = re.compile(r"(?<![\w.])(train(?:ing)?|val(?:id|idation)?|test(?:ing)?|dev|eval(?:uation)?)\s*[:=]\s*"
                            r"([-+]?\d+(?:\.\d+)?)\s*%", re.IGNORECASE)
#: A timing or throughput printed with its unit, ``0.0392 s/iter``, ``41.0 it/s``, ``850 samples/s`` (detectron2's
#: ``Inference done 1842/3334. Dataloading: 0.0016 s/iter. Eval: 0.0002 s/iter.``): not a measure, dropped
#: before the pairs are read (else ``s/iter. Eval`` read as a validation measure).
_RATE = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\s*"
                   r"(?:(?:m?s|secs?|seconds?)\s*/\s*(?:iter|it|step|batch|img|image|sample)s?"
                   r"|(?:it|iters?|steps?|batch(?:es)?|img|images?|samples?|tokens?|tok)\s*/\s*(?:s|sec|second))"
                   r"(?![\w/])\.?")
#: A tqdm bar's counter and timing without a total, after its description (``Loss: 12.06: : 65it [00:16,
#: 3.93it/s]``, ``set_description`` of a bar over a loader of unknown length; the colons end the description).
_TQDM_COUNT = re.compile(r"(?:\s*:)*\s*\d+it\s*\[[\d:]+(?:<[\d:?]+)?,\s*[\d.?]+\s*(?:it/s|s/it)\]")
#: A spread printed after a value, ``Dice = 0.6026 ± 0.0759``, ``acc: 91.2 +/- 0.4``: the value is the mean.
_PLUS_MINUS = re.compile(r"(?<=\d)%?\s*(?:±|\+/-|\+-)\s*\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


#: A split's measurements grouped in brackets after its name, ``Train(loss=0.41, acc=0.80)  Valid(L=0.48 | A=0.75)``
#: (``[…]`` and ``{…}`` too): each inner ``name=value`` / ``name: value`` belongs to that split. Read as
#: ``Train loss=0.41, Train acc=0.80``; without it the second group's bare ``acc`` overwrote the first's.
_SPLIT_GROUP = re.compile(r"(?<![\w.])(train(?:ing)?|val(?:id|idation)?|test(?:ing)?|dev|eval(?:uation)?)\s?"
                          r"[(\[{]([^()\[\]{}]*)[)\]}]", re.IGNORECASE)
#: One ``name=value`` / ``name: value`` inside a split group (:data:`_SPLIT_GROUP`).
_GROUP_PAIR = re.compile(r"(?<![\w@./\-])([A-Za-z][\w@./\-]{0,40}(?: [A-Za-z][\w@./\-]{0,40}){0,3})\s*[:=]\s*"
                         r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?)")
#: Single-letter names inside a split group: ``Valid(L=0.48 | A=0.75)`` (loss, accuracy).
_GROUP_LETTERS = {"L": "loss", "A": "acc"}


def _expand_group(m: re.Match[str]) -> str:
    """``Train(loss=0.41, acc=0.80)`` → ``Train loss=0.41, Train acc=0.80`` (:data:`_SPLIT_GROUP`); a group
    without a ``name=value`` pair is left as it is."""
    split, inner = m.group(1), m.group(2)
    found = _GROUP_PAIR.findall(inner)
    if not found:
        return m.group(0)
    return ", ".join(f"{split} {_GROUP_LETTERS.get(n.strip(), n.strip())}={v}" for n, v in found) + " "


#: The rest of an epoch marker line that is only a checkpoint's path (``Epoch 0001 : models\\0001.pt``, a script
#: that evaluates saved checkpoints one by one): the heading of that epoch's evaluation lines.
_CHECKPOINT_REST = re.compile(r"\s*[:\-]?\s*\S+\.(?:pt|pth|ckpt|h5|hdf5|keras|pkl|bin|safetensors|onnx|tar)\s*",
                              re.IGNORECASE)


def pairs(text: str) -> dict[str, float]:
    """The measurements printed in one line segment, ``{name: value}`` (later ones win); a split's bare name before
    a percentage is its accuracy (:data:`_SPLIT_PERCENT`); a measure printed as a list of per-class values
    (:data:`_MEASURE_LIST`) is their mean; an ``Epoch: [3/100]`` or ``Ep 3/100`` counter
    is the epoch; a spread after a value (``± 0.08``) is dropped. A ``|``-field whose names name no split takes the
    held-out split the field before it named (``Valid acc: 0.84 | loss: 0.51`` → ``Valid loss``); a ``|``-field
    that is a split and one number is that split's loss (:data:`_SPLIT_VALUE_FIELD`)."""
    out: dict[str, float] = {}
    text = _POSSESSIVE.sub(" ", text)
    if " on " in text or " On " in text:
        text = _ON_SET.sub(r"\2 \1", text)
    if "(" in text or "[" in text or "{" in text:
        text = _SPLIT_GROUP.sub(_expand_group, text)
    if "%" in text:
        if "of the" in text:
            text = _NETWORK_ON.sub(r"\1 accuracy:", text)
        text = _SPLIT_PERCENT.sub(r"\1 accuracy: \2%", text)
    if "±" in text or "+/-" in text or "+-" in text:
        text = _PLUS_MINUS.sub("", text)
    if "[" in text:
        text = _EPOCH_OF.sub(r"epoch: \1", text)
    if "it [" in text:
        text = _TQDM_COUNT.sub(" | ", text)
    if "/" in text:
        text = _RATE.sub(" | ", text)
        text = _OUTER_INNER.sub(r"| epoch: \1 |", text)
        text = _EP_OF.sub(r"| epoch: \1 |", text)  # (a field of its own: ``F1 Ep 3/50`` names fold 1's epoch 3)
    if "[" in text:
        text = _MEASURE_LIST.sub(_list_mean, text)
    text = _COUNT_RATIO.sub(lambda m: repr(int(m.group(1)) / int(m.group(2))) if int(m.group(2)) else "nan",
                            _TQDM_BAR.sub(" ", text))
    carry: str | None = None  # the split named by the previous field (``Valid acc: 0.84 | loss: 0.51``)
    fields = text.split("|")
    for field in fields:
        bare = _SPLIT_VALUE_FIELD.match(field) if len(fields) > 2 else None
        found = [(f"{bare.group(1)} loss", bare.group(2))] if bare is not None else _field_pairs(field)
        if found and _split_of(found[0][0]) is not None:
            carry = next(t for t in _TOKENS.split(found[0][0]) if t)
        elif found and carry is not None and _split_of(carry) != "train":
            found = [(f"{carry} {n}" if _split_of(n) is None and is_measure(n) else n, v) for n, v in found]
        for name, val in found:
            out[name] = float(val)
    return out


def _cells(seg: str) -> list[str] | None:
    """The cells of a ``| a | b |`` table row (at least :data:`MIN_TABLE_COLUMNS`), else None."""
    t = seg.strip()
    if t.count("|") < MIN_TABLE_COLUMNS - 1:
        return None
    cells = [c.strip() for c in t.strip("|").split("|")]
    return cells if len(cells) >= MIN_TABLE_COLUMNS else None


def _table_value(cell: str) -> float | None:
    t = cell.strip().rstrip("%").strip()
    try:
        return float(t)
    except ValueError:
        return None


def _is_table_header(cells: list[str]) -> bool:
    """A table header: an ``Epoch`` column and no numbers."""
    low = [c.lower() for c in cells]
    return "epoch" in low and sum(_table_value(c) is None for c in cells) == len(cells)


#: A name in the header of a space-aligned table (``train_loss``, ``val_acc``, ``lr``, ``secs``).
_HEADER_NAME = re.compile(r"^[A-Za-z][\w@.\-/]*$")


def _is_space_header(toks: list[str]) -> bool:
    """The header of a space-aligned table: at least :data:`MIN_SPACE_COLUMNS` names, one of them ``epoch``, one
    a measure, no numbers — and every name a single word (prose has short words and punctuation)."""
    return (len(toks) >= MIN_SPACE_COLUMNS and any(t.lower() == "epoch" for t in toks)
            and all(_HEADER_NAME.match(t) for t in toks) and any(is_measure(t) for t in toks)
            and sum("_" in t or t.lower() in ("epoch", "loss", "acc", "accuracy", "lr") for t in toks) >= 3)


#: Columns of a space-aligned table whose names have several words: two or more spaces between them.
_WIDE_GAP = re.compile(r"\s{2,}")
#: Most words of a column name in such a table (``Train Loss``, ``Val Top1 Acc``).
MAX_COLUMN_WORDS = 3


def _wide_space_header(seg: str) -> list[str] | None:
    """The columns of a space-aligned table header whose names have several words and are two or more spaces apart
    (``Epoch    Train Loss   Train Acc    Test Loss    Test Acc     Time``, a ``print(f"{'Epoch':<9}…")`` table),
    or None: at least :data:`MIN_SPACE_COLUMNS` columns, the first an epoch or step, two measures, one name of
    two or more words, every name of at most :data:`MAX_COLUMN_WORDS` words."""
    cells = _WIDE_GAP.split(seg.strip())
    if len(cells) < MIN_SPACE_COLUMNS or cells[0].lower() not in ("epoch", "ep", "step", "iter", "iteration"):
        return None
    words = [c.split() for c in cells]
    if not all(len(w) <= MAX_COLUMN_WORDS and all(_HEADER_NAME.match(t) for t in w) for w in words) \
            or not any(len(w) > 1 for w in words) or sum(is_measure(c) for c in cells) < 2:
        return None
    return cells


class _Records:
    """Epoch records assembled line by line (step records in a log that prints no epoch)."""

    def __init__(self) -> None:
        self.records: list[tuple[int, dict[str, Any]]] = []
        self.epoch: float | None = None
        self.step: float | None = None  # the step of the last step record (logs without epoch markers)
        self.unmarked: list[tuple[int, dict[str, float]]] = []  # measurements seen before any epoch or step
        self.physical = 0  # lines ended by ``\n`` so far: the updates of a progress bar share one
        self._bar = -1  # the physical line of the last unmarked measurements
        self.open = False  # the last record belongs to the current epoch block
        self.table: list[str] | None = None  # the header of the Markdown/ASCII table being read
        self.space = False  # the table's columns are aligned with spaces, not ``|``
        self.block: str | None = None  # the split of an ``Evaluation Results:`` block of indented lines
        self.ultra = UltralyticsConsole()  # the state of an Ultralytics console log (its headers)
        self.counted = False  # epochs come from bare ``[k/N]:`` counters (:data:`_COUNTER_LEAD`)
        self.lists: list[tuple[str, list[float], int]] = []  # a history printed as lists (:data:`_HISTORY_LINE`)
        self.d2_task = ""  # detectron2's ``copypaste: Task: bbox`` (:data:`_COPYPASTE`)
        self.d2_names: list[str] | None = None  # … and its ``copypaste: AP,AP50,…`` header

    def table_row(self, line: int, seg: str) -> bool:
        """Read ``seg`` as a table header, separator or row; False when it is none of them."""
        cells = _cells(seg)
        if cells is None:
            return self._space_table_row(line, seg)
        if _is_table_header(cells):
            self.table, self.space = [_UNITS.sub("", c) for c in cells], False
            return True
        if self.table is None:
            return False
        if all(_RULE.fullmatch(c) for c in cells if c):
            return True
        return self._table_record(line, cells, self.table)

    def _space_table_row(self, line: int, seg: str) -> bool:
        """A table whose columns are aligned with spaces (``epoch  train_loss  train_acc  val_loss  val_acc``, then
        one row of numbers per epoch, ``%`` allowed): its header, a row, or a rule line under it."""
        toks = seg.split()
        wide = _wide_space_header(seg) if "  " in seg else None
        if wide is not None or _is_space_header(toks):
            self.table, self.space = wide or toks, True
            return True
        if self.table is not None and self.space and len(toks) == len(self.table) + 1 \
                and toks[-1].lower() in _UNIT_WORDS:
            toks = toks[:-1]  # (``0.55    s``: a time column's unit printed apart)
        if self.table is not None and self.space and len(toks) == len(self.table) \
                and all(_table_value(t) is not None for t in toks):
            return self._table_record(line, toks, self.table)
        return self._table_rule(seg)

    def _table_rule(self, seg: str) -> bool:
        """``seg`` (not a table row) as a rule line under the header; else the table ends."""
        if self.table is not None and _RULE.fullmatch(seg.strip()):
            return True  # a rule line under the header
        self.table = None
        return False

    def _table_record(self, line: int, cells: list[str], head: list[str]) -> bool:
        """A row of the table with header ``head``: one epoch's record; False (the table ends) without an epoch."""
        ei = [h.lower() for h in head].index("epoch")
        ep = _table_value(cells[ei]) if len(cells) == len(head) else None
        if ep is None:
            self.table = None
            return False
        found = {h: v for j, (h, c) in enumerate(zip(head, cells, strict=True)) if j != ei and h
                 and (v := _table_value(c)) is not None and h.lower() not in _IGNORED}
        self.marker(ep)
        self.open = False
        self.add(line, found)
        return True

    def marker(self, epoch: float) -> None:
        if epoch != self.epoch:
            self.open = False
        self.epoch = epoch

    def add(self, line: int, found: dict[str, float]) -> None:
        if not found:
            return
        if self.epoch is None:
            self._add_by_step(line, found)
            return
        if self.open:
            rec = self.records[-1][1]
            have = {_series_of(k): k for k in rec}
            # a later line's name for a series the record already holds under another name (``Loss`` from the
            # next epoch's step lines after ``Epoch 1/5 - Train Loss: …``) does not add a second value
            rec.update({k: v for k, v in found.items() if have.get(_series_of(k), k) == k})
        else:
            self.records.append((line, {"epoch": self.epoch, **found}))
            self.open = True

    def finish(self) -> None:
        """After the last line. In a log with epoch records, the step records read before its first epoch marker
        go: their epoch is unknown (a loop that prints ``Epoch 1/5 - Train Loss: …`` at the end of the epoch),
        and a log read by epochs keeps one axis. A log with neither epoch nor step markers is read as one record
        per epoch in order (:func:`_numbered`)."""
        first = next((k for k, (_, r) in enumerate(self.records) if "epoch" in r), None)
        if first:
            del self.records[:first]
        if not self.records:
            self.records = self._history_lists() or _numbered(self.unmarked)
        _drop_batch_index(self.records)

    def _history_lists(self) -> list[tuple[int, dict[str, Any]]]:
        """Epoch records of a history printed as lists (:data:`_HISTORY_LINE`): two or more names, each printed
        once, whose lists have one common length of two or more, one of them a measure; else ``[]`` (a per-class
        list on its own line each epoch is a name printed more than once: the mean rule of :func:`pairs`)."""
        names = [n for n, _, _ in self.lists]
        if len(names) < 2 or len(set(names)) != len(names) or not any(is_measure(n) for n in names):
            return []
        lengths = {len(v) for _, v, _ in self.lists}
        if len(lengths) != 1 or min(lengths) < 2:
            return []
        line = self.lists[0][2]
        return [(line, {"epoch": float(i + 1), **{n: v[i] for n, v, _ in self.lists}})
                for i in range(lengths.pop())]

    def _history_segment(self, line: int, seg: str) -> None:
        """Keep the lists of a history printed as lists (:meth:`_history_lists` decides at the end)."""
        one = _HISTORY_LINE.match(seg)
        if one is not None:
            self.lists.append((one.group(1), [float(x) for x in one.group(2).split(",")], line))
            return
        if _HISTORY_DICT.match(seg) is None:
            return
        text = seg.strip()
        if text.startswith('"') and text.endswith('"') and len(text) > 1:
            text = text[1:-1]  # (a JSON string holding the printed dict: its single quotes need no unescaping)
        try:
            d = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return
        if isinstance(d, dict):
            for k, v in d.items():
                if isinstance(k, str) and isinstance(v, list) and v and all(
                        isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
                    self.lists.append((k, [float(x) for x in v], line))

    def _add_by_step(self, line: int, found: dict[str, float]) -> None:
        """A log that prints no epoch: a line with a step (``Step 100, Loss: 0.0511``) opens the record of that
        step, and the lines after it without one (``Validation - Loss: 0.1996, F1: 0.9995``) belong to it."""
        step = found.get("step")
        if step is None and self.step is None:
            if self.unmarked and self._bar == self.physical:
                self.unmarked[-1][1].update(found)  # a progress bar rewritten in place: its last state counts
            else:
                self.unmarked.append((line, dict(found)))
            self._bar = self.physical
            return
        if step is not None and step != self.step:
            self.step = step
            self.records.append((line, dict(found)))
        elif self.step is not None:
            self.records[-1][1].update(found)

    def segment(self, line: int, seg: str) -> None:
        if "[" in seg and ":" in seg:
            self._history_segment(line, seg)
        prefix = _LOG_PREFIX.match(seg)  # (every string matches: the prefix may be empty)
        if prefix and seg[:prefix.end()].strip():
            seg = seg[prefix.end():]
        elif self.block is None:
            seg = seg.lstrip()  # (leading white space alone is no prefix: it may indent a block's measurements)
        if _BEST_TAG.match(seg) is not None:
            return  # (``[Best Model Metrics] Epoch 1 | MAE: 221.1``: the saved best model's scores, a running best)
        if _MODULE_REPR.match(seg) is not None:
            return
        if "Namespace(" in seg:  # (``Training arguments: Namespace(embed_dim=64, …, eval_k=10)``: argparse's
            seg = seg[:seg.index("Namespace(")]  # settings, never measurements)
        seg = _TAG.sub("", seg, count=1)
        ultra = self.ultra.segment(seg)
        if ultra is not None:  # Ultralytics' console (:mod:`._ultralytics_console`)
            kind, epoch, found = ultra
            if kind == "epoch" and epoch is not None:
                self.marker(epoch)
            self.add(line, found)
            return
        if self.table_row(line, seg):
            return
        printed = _printed_dict(seg)
        if printed is not None:  # ``{'loss': 0.41, 'learning_rate': 5e-05, 'epoch': 0.25}`` (Trainer stdout)
            if "train_runtime" not in printed:  # the closing summary: run averages, not curve points
                self.records.append((line, printed))
            self.open = False
            return
        paste = _COPYPASTE.search(seg) if "copypaste:" in seg else None
        if paste is not None:  # detectron2's evaluation summary in CSV form
            self._copypaste(line, paste.group(1))
            return
        coco = _COCO_LINE.match(seg)
        if coco is not None:  # pycocotools' summary: the held-out set's COCO AP, for the current epoch or step
            name = COCO_SERIES.get(coco.group(1))
            if name is not None and float(coco.group(2)) >= 0:  # (-1: no ground truth in that category)
                self.add(line, {name: float(coco.group(2))})
            return
        seg = self._blocks(seg)
        swin = _swin(seg)
        if swin is not None:  # the Swin logger (:data:`_SWIN_TRAIN`)
            epoch, split, measured = swin
            if epoch is not None:
                self.marker(epoch)
            if measured:
                self.add(line, _in_split(measured, split))
            return
        seg, field_split = _split_field(seg)
        seg = _SPLIT_COUNTER.sub(r"\1 epoch \2 ", seg, count=1)
        counter = _COUNTER_LEAD.match(seg) if self.epoch is None or self.counted else None
        if counter is not None:
            self.counted = True
            seg = f"epoch {counter.group(1)}: {seg[counter.end():]}"
        named = _FOR_COUNTER.match(seg)
        if named is not None and is_measure(named.group(2)):
            seg = f"{named.group(1)}{named.group(3)} {named.group(4)}: {named.group(2)}: {seg[named.end():]}"
        m = _MARKER.match(seg)
        if m is None:
            found = _in_split(pairs(_SPLIT_LEAD.sub(r"\1\2 ", seg, count=1)), field_split)
            if "epoch" in found:  # ``train | epoch 001 | loss 9.12 | …`` (fairseq): the epoch as a field
                self.marker(found.pop("epoch"))
                self.add(line, found)
                return
            step = _STEP_MARKER.search(seg) if self.epoch is None and found and "step" not in found else None
            self.add(line, {"step": float(step.group(1) or step.group(2)), **found} if step else found)
            return
        rest, epoch = _PROGRESS.sub(" ", seg[m.end():]), float(m.group(3))
        # (``[Eval][Epoch 1][Avg]CELoss: …``, PaddleClas: the epoch's mean; ``[Iter: 0/25]`` left as ``[ ]``)
        rest = _TAG.sub("", _EMPTY_BRACKETS.sub("", rest, count=1), count=1)
        split = m.group(2) or m.group(1)  # ``Epoch(val) [1][500/500]`` (OpenMMLab), ``Valid Epoch: 3 …``
        tag = _SPLIT_TAG.match(rest) if split is None else None
        if tag is not None:  # ``Epoch 1/200 [Val]   loss: 0.36`` (the split tagged after the epoch)
            split, rest = tag.group(1), rest[tag.end():]
        if split and _split_of(split) != "train":
            rest = f"{split}: {_ITER_BRACKET.sub('', rest, count=1).strip().lstrip(',;:|- ')}"
        found = _in_split(pairs(_SPLIT_LEAD.sub(r"\1\2 ", rest, count=1)), field_split)
        if found:
            self.marker(epoch)
            self.add(line, found)
        elif not re.search(r"[A-Za-z]", rest) or rest.lstrip().startswith("|") or (
                "/" in seg[:m.end()] and _PHASE_WORDS.fullmatch(rest)) or _CHECKPOINT_REST.fullmatch(rest):
            # (``Epoch 3/100 - Training Phase``, ``Epoch 3/100 Complete:``: the epoch's heading, its total given —
            # not Keras's ``Epoch 00008: early stopping``, printed after epoch 8's marker and before its metrics)
            self.marker(epoch)
            self.open = False


    def _copypaste(self, line: int, text: str) -> None:
        """detectron2's ``print_csv_format`` (:data:`_COPYPASTE`): ``Task: bbox``, then the names ``AP,AP50,…``,
        then their values ``10.97,22.44,…`` — the held-out set's ``val_<task>_<name>`` at the current step (the
        last ``iter:`` line before it: detectron2 evaluates after iteration ``k·EVAL_PERIOD − 1`` and prints that
        iteration's events line after the summary, so the step shown is up to one ``log_period`` early)."""
        if text.startswith("Task:"):
            self.d2_task, self.d2_names = text[5:].strip(), None
            return
        cells = [c.strip() for c in text.split(",")]
        try:
            values = [float(c) for c in cells]
        except ValueError:
            if all(re.fullmatch(r"[A-Za-z][\w\-]*", c) for c in cells):
                self.d2_names = cells
            return
        if self.d2_names is not None and len(values) == len(self.d2_names):
            task = f"{self.d2_task}_" if self.d2_task else ""
            self.add(line, {f"val_{task}{n}": v for n, v in zip(self.d2_names, values, strict=True)})
        self.d2_names = None

    def _blocks(self, seg: str) -> str:
        """Track ``Evaluation Results:`` headings: the indented lines after one are measurements of its split
        (``   Loss: 0.53`` → ``Evaluation Loss: 0.53``), and so are unindented ``name: value`` lines that name no
        split (``Test on Epoch 1``, a progress bar, ``Evaluation``, ``mAP: 0.86``); a line with an epoch or step
        marker, or one that names a split, ends the block, and so does any other line that is not a progress
        bar."""
        head = _BLOCK_HEAD.match(seg) or _EVALUATE_ON.match(seg)
        if head is not None:
            self.block = head.group(1)
            return seg
        if self.block is None:
            return seg
        body = seg.strip()
        prog = _BLOCK_PROGRESS.match(body)
        if prog is not None and _colon_pairs(body[prog.end():]):
            return f"{self.block} {body[prog.end():]}"  # (``step 10/20 - loss: …`` of the block's own loop)
        if _INDENT.match(seg) and _split_of(body) is None:
            return f"{self.block} {body}"
        if _MARKER.match(seg) is None and _STEP_MARKER.search(seg) is None and _split_of(body) is None \
                and _SPLIT_LEAD.match(seg) is None:
            found = _colon_pairs(body)
            if found and not any(_split_of(n) for n, _ in found):
                return f"{self.block} {body}"  # (an unindented measurement of the block's split)
            if _TQDM_BAR.search(seg) is not None or not re.search(r"[A-Za-z]{2}", _TQDM_BAR.sub("", seg)):
                return seg  # a progress bar inside the block
        self.block = None
        return seg


def _chunks(text_lines: Iterator[str]) -> _Records:
    recs = _Records()
    rewritten = False  # the line before ended with ``\r`` alone: this one rewrites it in place
    for i, line in enumerate(text_lines, start=1):
        recs.physical += not rewritten
        rewritten = line.endswith("\r")
        for piece in _SEGMENTS.split(line):
            for seg in _GLUED_STAMP.split(piece):
                if seg.strip():
                    recs.segment(i, seg)
    recs.finish()
    return recs


def _printed_dict(seg: str) -> dict[str, float] | None:
    """The numbers of a Python dict printed in ``seg`` (the Hugging Face ``Trainer`` prints its logs as ``{'loss':
    0.41, 'grad_norm': 1.5, 'learning_rate': 5e-05, 'epoch': 0.25}``, often glued to a tqdm bar), read with
    :func:`ast.literal_eval` (literals only, never code); None when there is none or it carries no epoch, step or
    measure."""
    m = _PRINTED_DICT.search(seg)
    if m is not None:
        text = m.group()
        if "nan" in text or "inf" in text:  # (``{'grad_norm': nan}``: no Python literal; quoted, read below)
            text = _BARE_NONFINITE.sub(r' "\1\2"', text)
        try:
            d = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None
    else:
        j = _JSON_OBJECT.search(seg)
        if j is None or not seg[:j.start()].strip():
            return None  # (a line that is only a JSON object is JSON Lines', or a document's: not a text record)
        try:  # a JSON object after a prefix: ``Step:200\t{"metric": {"eval_acc": 0.48}, "step": 200}``
            d = json.loads(seg[j.start():].rstrip())
        except (ValueError, RecursionError):
            return None
    if not isinstance(d, dict):
        return None
    out = _numbers(d)
    for key, inner in d.items():  # one level of nesting: ``{"metric": {...}}``, ``{"val": {"loss": 0.4}}``
        if isinstance(inner, dict):
            split = str(key) if str(key).lower() in SPLIT_ALIASES else None
            for k, v in _numbers(inner).items():
                out.setdefault(f"{split}_{k}" if split else k, v)
    return out if any(k in ("epoch", "step") or is_measure(k) for k in out) else None


#: A JSON object printed on a line after a prefix (its first key double-quoted), read to the end of the line.
_JSON_OBJECT = re.compile(r'\{\s*"[A-Za-z_][\w/.\-]*"\s*:')


#: A bare ``nan``/``inf`` value in a printed dict (Python prints ``float('nan')`` so): the Trainer's ``{'loss': 0.0,
#: 'grad_norm': nan, …}`` and ``{'eval_loss': nan, …}`` of a run that blew up.
_BARE_NONFINITE = re.compile(r"(?<=:)\s*(-?)(nan|inf)(?=\s*[,}])")
_NONFINITE_TEXT = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}
#: A number written as a JSON string (fairseq's JSON log format: ``{"epoch": 2, "valid_loss": "2.253", …}``).
#: (Written so that no digit string splits two ways: linear on any input.)
_QUOTED_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def _numbers(d: dict[Any, Any]) -> dict[str, float]:
    """The numbers of a dict, NaN and ±inf (quoted by :data:`_BARE_NONFINITE`) included, overflowing magnitudes,
    booleans and nested values left out."""
    out: dict[str, float] = {}
    for k, v in d.items():
        if isinstance(v, str) and v in _NONFINITE_TEXT:
            out[str(k)] = _NONFINITE_TEXT[v]
        elif isinstance(v, str) and _QUOTED_NUMBER.fullmatch(v) is not None and abs(float(v)) < 1e300:
            out[str(k)] = float(v)  # (fairseq's ``--log-format json`` quotes every number: ``"loss": "2.474"``)
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and (abs(v) < 1e300 or not np.isfinite(v)):
            out[str(k)] = float(v)
    return out


def _split_field(seg: str) -> tuple[str, str | None]:
    """A ``|``-separated line with a field that is only a split (fairseq: ``valid | epoch 001 | valid on 'valid'
    subset | loss 8.5 | …``): the line without that field and the split, else ``(seg, None)``."""
    m = _SPLIT_FIELD.search(seg)
    if m is None:
        return seg, None
    return seg[:m.start()] + "|" + seg[m.end():], m.group(1)


def _in_split(found: dict[str, float], split: str | None) -> dict[str, float]:
    """``found`` with every name that names no split put in ``split`` (the axes stay). Without a split, a running
    best among the names (HRNet's ``Loss: 3.124, MeanIU: 0.0649, Best_mIoU: 0.0649``) says the line reports an
    evaluation — bests are kept of held-out measures — so its other names are the validation set's."""
    if split is None:
        if any(is_running_best(k) for k in found):
            split = "val"
        else:
            return found
    return {k if k in ("epoch", "step") or _split_of(k) is not None else f"{split} {k}": v for k, v in found.items()}


def _drop_batch_index(records: list[tuple[int, dict[str, Any]]]) -> None:
    """A ``step`` printed in epoch records that does not grow from one epoch to the next (``Epoch: 2 step: 19
    loss: 11.2``: the batch index within the epoch) is no global step: it is dropped, so the records keep the
    epoch axis (kept, it would make every epoch the same step)."""
    steps = [r["step"] for _, r in records if "epoch" in r and "step" in r]
    if len(steps) >= 2 and not all(b > a for a, b in zip(steps, steps[1:], strict=False)):
        for _, r in records:
            if "epoch" in r:
                r.pop("step", None)


def _numbered(lines: list[tuple[int, dict[str, float]]]) -> list[tuple[int, dict[str, Any]]]:
    """Records of a log that prints no epoch or step (``Log > train_acc: 0.80 - val_acc: 0.70 - train_loss: 0.41
    - val_loss: 0.58``, one line per epoch): a record ends when a name repeats, so a training line and a
    validation line after it make one record; records are numbered 1, 2, … as their epochs. Only when at least
    :data:`MIN_NUMBERED_RECORDS` records and a held-out measurement are found (prose with one number is no log)."""
    out: list[tuple[int, dict[str, Any]]] = []
    for line, found in lines:
        if out and not (found.keys() & out[-1][1].keys()):
            out[-1][1].update(found)
        else:
            out.append((line, {"epoch": float(len(out) + 1), **found}))
    held = any(_series_of(k)[0] != "train" for _, r in out for k in r if k != "epoch" and is_measure(k))
    if _per_entity(out):
        return []
    return out if len(out) >= MIN_NUMBERED_RECORDS and held else []


def _per_entity(records: list[tuple[int, dict[str, Any]]]) -> bool:
    """Whether records numbered in order (:func:`_numbered`) each carry one counter of
    :data:`gapwatch.readers._templates.ENTITY_COUNTERS` that rises by one from record to record: a table of final
    results, one per subject or fold (``Subject: 3   seed 1   time: 1.5 m   valid_acc: 0.8966``), whose order is
    no time axis."""
    for name in {k for _, r in records[:1] for k in r if k.strip().lower() in ENTITY_COUNTERS}:
        values = [r.get(name) for _, r in records]
        counts = [float(v) for v in values if v is not None]
        if len(counts) == len(values) >= 2 and all(b == a + 1 for a, b in zip(counts, counts[1:])):
            return True
    return False


#: ANSI escape sequences (colours, cursor moves) that terminal loggers write and stdout captures keep (W&B's
#: ``output.log``, ``nohup.out``): removed before a line is read (ECMA-48 CSI sequences and single-character
#: escapes).
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")


#: Chinese words of training logs and their English reading (``训练损失: 4.61 | 验证损失: 6.01`` → ``train loss: 4.61
#: | val loss: 6.01``), longest first; full-width punctuation becomes ASCII.
_CJK_TERMS: tuple[tuple[str, str], ...] = (
    ("准确率", " accuracy "), ("正确率", " accuracy "), ("准确度", " accuracy "), ("精确率", " precision "),
    ("召回率", " recall "), ("精度", " accuracy "), ("损失", " loss "), ("训练集", " train "), ("验证集", " val "),
    ("测试集", " test "), ("训练", " train "), ("验证", " val "), ("测试", " test "), ("：", ": "), ("，", ", "),
    ("；", "; "), ("｜", "|"), ("耗时", " time "),
)
_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
#: The Chinese ordinal of an epoch (``第3轮``, ``第3个epoch``, ``第3代``: "the 3rd round"), which opens the epoch's
#: measurements; a log that prints no line ends (``…耗时6.7秒第2轮：训练损失：0.71…``) gets one before each.
_CJK_EPOCH = re.compile(r"第\s*(\d+)\s*(?:轮|个?\s*[Ee]poch|代)")


def _english(line: str) -> str:
    """``line`` with the Chinese words of :data:`_CJK_TERMS` read in English and an epoch ordinal
    (:data:`_CJK_EPOCH`) as ``epoch N`` on a line of its own (a line without CJK characters is returned as is)."""
    if _CJK.search(line) is None:
        return line
    line = _CJK_EPOCH.sub(r"\nepoch \1 ", line).lstrip("\n")
    for zh, en in _CJK_TERMS:
        line = line.replace(zh, en)
    return re.sub(r"(?<=[A-Za-z]) {2,}(?=[A-Za-z:])", " ", line)


#: A PyTorch scalar tensor printed as such: ``tensor(8.3686, device='cuda:0', grad_fn=<DivBackward0>)`` (a loss
#: printed without ``.item()``): its number.
_TENSOR = re.compile(r"\btensor\(\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf)\s*(?:,[^()]*)?\)")


#: A minus sign glued to a signal ratio's name (``Valid  -SISDR: -7.80``, ``[-sisdr=-10.8]``): the negated SI-SDR a
#: separation model minimises (its loss), read as ``neg_SISDR`` (:func:`gapwatch.names.metric_mode`: smaller is
#: better) — the minus is not a separator, and ``SISDR`` alone would be read as the larger-is-better ratio.
_NEG_RATIO = re.compile(r"(?<![\w.\-])-(?=(?:si[-_]?)?s[dn]ri?\s*[:=])", re.IGNORECASE)


def _plain(lines: Iterable[str]) -> Iterator[str]:
    """``lines`` without ANSI escape sequences (:data:`_ANSI`), scalar tensors as their numbers
    (:data:`_TENSOR`), a negated signal ratio's minus as ``neg_`` (:data:`_NEG_RATIO`), Chinese log words read in
    English (:func:`_english`)."""
    for ln in lines:
        ln = _ANSI.sub("", ln) if "\x1b" in ln else ln
        ln = _TENSOR.sub(r"\1", ln) if "tensor(" in ln else ln
        ln = _NEG_RATIO.sub("neg_", ln) if "-" in ln and ("dr" in ln or "DR" in ln or "nr" in ln or "NR" in ln) else ln
        if ln.isascii():
            yield ln
            continue
        ln = _english(ln)
        if "\n" in ln.rstrip("\r\n"):  # (epochs glued in one line: one line each, :data:`_CJK_EPOCH`)
            yield from ln.splitlines(keepends=True)
        else:
            yield ln


#: A file with one of these extensions (or none) whose first 64 KiB hold no measurement is searched further, up to
#: :data:`DEEP_SNIFF_BYTES`: a pipeline log may print its configuration and thousands of data-loading warnings
#: before its first epoch line (a histopathology run's first measurement sat at byte 298,926).
DEEP_SNIFF_SUFFIXES = frozenset({".log", ".txt", ".out", ".err", ".stdout", ".stderr", ""})
#: How far into such a file the sniffer looks for a first measurement: 4 MiB.
DEEP_SNIFF_BYTES = 4 * 1024 * 1024


def _paired_splits(r: dict[str, Any]) -> bool:
    """A record that names the training set and a held-out set (``tr_ssl=0.31  va_full=0.14``): a training log's
    line whatever its measures are called."""
    splits = {SPLIT_ALIASES[sp] for k in r if (sp := _split_of(k)) is not None}
    return "train" in splits and len(splits) >= 2


def _has_records(text: str) -> bool:
    lines = list(_plain(text.splitlines()))
    recs = _chunks(iter(lines))
    good = [r for _, r in recs.records if any(is_measure(k) for k in r if k != "epoch") or _paired_splits(r)]
    return len(good) >= MIN_SNIFF_RECORDS or bool(template_records(lines))


def _held_out(records: list[tuple[int, dict[str, Any]]]) -> bool:
    """Whether ``records`` hold a measurement named for any split but training (the rules read the log's
    evaluations, or a series of its own they name: ``Average loss``)."""
    return any(k not in ("epoch", "step") and is_measure(k) and _series_of(k)[0] != "train"
               and not is_running_best(k) for _, r in records for k in r)


def sniff(path: Path, head: str) -> bool:
    if not path.is_file() or head.count("\x00") > MAX_STRAY_NULS or not head.strip():
        return False
    if _has_records(head.replace("\x00", "")):
        return True
    if path.suffix.lower() not in DEEP_SNIFF_SUFFIXES or path.stat().st_size <= len(head.encode("utf-8")):
        return False
    with open(path, encoding=_encoding(path), errors="replace", newline="") as fh:
        more = fh.read(DEEP_SNIFF_BYTES)
    return more.count("\x00") <= MAX_STRAY_NULS and _has_records(more.replace("\x00", ""))


def _encoding(path: Path) -> str:
    """The file's encoding from its first bytes (:func:`gapwatch.readers.base.text_encoding`: UTF-8, UTF-16 after
    its byte order mark, or GB 18030 for a log written on Chinese Windows)."""
    with open(path, "rb") as fh:
        return text_encoding(fh.read(HEAD_BYTES))


#: Most NUL characters a text log may hold, each in a line that is otherwise text, before it is refused as binary
#: data: a crashed worker's ``ERROR: Unexpected segmentation fault`` lines carry a stray NUL or two; the NULs are
#: dropped and the lines read.
MAX_STRAY_NULS = 64


def _lines(path: Path) -> Iterator[str]:
    """The lines of a text log (at most ``MAX_LINE_CHARS`` characters each); stray NULs (:data:`MAX_STRAY_NULS`)
    dropped, more refused as binary data."""
    nuls = 0
    try:
        with open(path, encoding=_encoding(path), errors="replace", newline="") as fh:
            while True:
                chunk = fh.readline(guardlog.MAX_LINE_CHARS)
                if not chunk:
                    return
                if "\x00" in chunk:
                    k = chunk.count("\x00")
                    nuls += k
                    if nuls > MAX_STRAY_NULS or 10 * k > len(chunk):
                        raise InputError("binary data (NUL bytes), expected a text log", path=path)
                    chunk = chunk.replace("\x00", "")
                yield chunk
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from None


def read_parts(path: Path, run: str) -> list[Parts]:
    path = Path(path)
    return lines_parts(_lines(path), run, str(path), again=lambda: _lines(path))


def lines_parts(lines: Iterable[str], run: str, source: str, *, what: str = "line",
                again: Callable[[], Iterable[str]] | None = None) -> list[Parts]:
    """The run(s) printed in ``lines`` (a text log's lines, or the printed output of a notebook's cells);
    ``what`` names the unit of the line numbers in notes. ``again`` gives the lines once more (a file is read a
    second time, line by line, only when the line layouts are needed: the first pass keeps no line); without it
    the lines are kept for that second pass."""
    kept = None if again is not None else list(_plain(lines))
    records = _chunks(iter(kept) if kept is not None else _plain(lines)).records
    templated: list[tuple[int, dict[str, Any]]] = []
    if not _held_out(records):
        templated = template_records(kept if kept is not None else list(_plain(again() if again else ())))
    if templated:  # a phrasing no rule reads: the file's own repeated line layouts (:mod:`._templates`)
        records = templated
    if records and not any("epoch" in r or "step" in r for _, r in records):
        # (printed dicts without an epoch or a step — ``{'loss': 0.41, 'val_loss': 0.58}`` a line — are
        # evaluations in order, like any log that prints no marker; without this they had no place on any axis
        # and a finding read "at epoch ?")
        records = [(line, {"epoch": float(k), **r}) for k, (line, r) in enumerate(records, start=1)]
    axis = "epoch" if any("epoch" in r for _, r in records) else "step"
    spans = restarts(np.asarray([r.get(axis, np.nan) for _, r in records], dtype=float))
    out = []
    starts = [records[a][0] for a, _ in spans[1:]]
    for k, (a, b) in enumerate(spans, start=1):
        p = records_parts(records[a:b], f"{run}#{k}" if len(spans) > 1 else run, source)
        schedule.keep_records(p.meta, records[a:b])
        if len(spans) > 1:
            p.notes.append(restart_note(p.run, source, starts, what))
        if templated:
            p.notes.append(HistoryNote(p.run, "no known phrasing found; read by the file's repeated line layouts "
                                              f"(series: {', '.join(sorted({b.name for b in p.blocks}))})", source))
        out.append(p)
    return out


READER = FunctionReader(NAME, sniff, read_parts, "plain-text training logs (prints, Keras/tqdm stdout)")
