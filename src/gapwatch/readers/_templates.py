"""Line templates: how the text reader reads a log printed in a phrasing none of its rules know.

A training loop prints the same line again and again with other numbers: once an epoch, once an evaluation, once
every hundred steps. Replace every number of a line by a slot and the line's *template* is left (``VAL step #: PSNR
# SSIM #``); a template printed at least :data:`MIN_TEMPLATE_LINES` times is one of the loop's prints. This is the
idea of log parsing by templates (He, Zhu, Zheng & Lyu, "Drain: An Online Log Parsing Approach with Fixed Depth
Tree", ICWS 2017), applied to the one kind of log gapwatch reads: the template is learnt from the file's own
repeated lines instead of from a list of phrasings.

Each slot of a template is named by the words just before it (``PSNR #``, ``loss is: #``; after a split word in
prose, from the split word on: ``… with Adam is test acc: #`` → ``test acc``), or, when no word precedes it, by the
words just after it (``# C.E. Loss, #% Accuracy``). A value after the word ``best`` (``saved best.pt (PSNR
27.5)``) is a running best and not read. A slot named ``epoch``/``ep``/``episode`` or ``step``/``iter`` (or a bare
``[k/N]`` opening the line) is the template's counter; its other slots are measurements, of the split the template
names before its first measurement when the slot's own name names none (``VAL step #: PSNR #`` → ``VAL PSNR``). A
template without a counter belongs to the last counter printed before it (the evaluation printed after its epoch's
training line); a layout that names no split takes the split of a repeated heading printed shortly before its
line (``Eval epoch: 4`` then ``mean_loss: 5.99``). Of a value followed by another in parentheses (``Loss 1.93
(2.24)``, the ``AverageMeter`` of the PyTorch ImageNet example and of timm) the one in parentheses, the running
mean, is read; timm's ``Train: 3 [ 200/390 ( 51%)]`` gives the epoch. Only measures
(:func:`gapwatch.names.is_measure`) are kept, never a running best.

The text reader asks for these records only when its rules found no held-out series, and takes them only when
they hold one with at least :data:`MIN_TEMPLATE_EVALS` values (:func:`template_records`): every log its rules read
is read as before.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..names import SPLIT_ALIASES, is_measure, is_running_best, normalize

#: Fewest lines a template must be printed on to count as one of the training loop's prints.
MIN_TEMPLATE_LINES = 3
#: Fewest values a held-out measurement of the templates must have for the records to be used (an evaluation
#: curve, not a one-off).
MIN_TEMPLATE_EVALS = 3
#: Most lines between a repeated heading that names a split (``Eval epoch: 4``, ``Dev Results``) and a measurement
#: line that names none for the heading to name its split.
MAX_HEADING_LINES = 30
#: A line without numbers that names a split: a heading, if it repeats (``Dev Results``, ``Validation:``).
_HEADING_LINE = re.compile(r"^\W*(?:[A-Za-z]+\W+){0,3}?(?:train(?:ing)?|val(?:id|idation|idating)?|eval(?:uation|"
                           r"uating)?|dev|test(?:ing)?)\b[\w .:…-]*$", re.IGNORECASE)
#: Most words of a slot's name (``mean test loss``).
MAX_NAME_WORDS = 3

#: A number standing on its own (not inside a word: ``L2N``, ``sm_89``, ``resnet18``, ``BLEU-4``, ``Acc@1`` are
#: names); ``nan`` and ``inf`` are values.
_NUMBER = re.compile(r"(?<![\w.])(?<![A-Za-z][-@])(?:[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
                     r"|[-+]?(?:nan|NaN|NAN|inf|Inf|Infinity))(?![\w.])")
#: What separates one printed field from the next.
_SEP = re.compile(r"[|,;()\[\]{}<>\t]| {2,}| -+ |(?<=\S)-{2,}>?")
#: A heading before a name (``Dev BLEU: BLEU-1 63.9``): the name is what follows it.
_HEADING = re.compile(r":\s+(?=\S)")
_WORDS = re.compile(r"[A-Za-z][\w.@/\-]*")
#: Words between a name and its value that are not part of the name (``loss is: 0.41``).
_FILLER = frozenset({"is", "was", "are", "of", "at", "equals", "now", "="})
#: Counter names: the epoch (an RL episode or a boosting round is read as one) …
_EPOCH_WORDS = frozenset({"epoch", "ep", "episode", "round"})
#: … or the step.
_STEP_WORDS = frozenset({"step", "steps", "iter", "iters", "iteration", "it", "global_step", "batch_idx"})
#: Counters that index the lines of a results table, not a training curve: one line per subject, fold,
#: participant or patient (``Subject: 3   seed 1   time: 1.5 m   valid_acc: 0.8966   valid_loss: 0.476``, the
#: per-subject summary an EEG toolkit prints after training each subject's model). A layout with such a slot and no
#: epoch or step counter is no print of the training loop.
ENTITY_COUNTERS = frozenset({"subject", "sub", "fold", "participant", "patient"})
_SPLITS = frozenset(SPLIT_ALIASES) - {"metrics"}
_HELD_OUT = frozenset(SPLIT_ALIASES.values()) - {"train"}
#: A bare ``[k/N]`` counter opening a line (after any prefix the reader removed).
_LEAD_COUNTER = re.compile(r"^\s*\[\s*$")
#: Two or more names, then as many values: ``IS, FID: 1.666, 341.353``.
_NAME_LIST = re.compile(r"([A-Za-z][\w@\-]*(?:\s*,\s*[A-Za-z][\w@\-]*)+)\s*[:=]\s*"
                        r"([-+]?\d[\d.eE+\-]*(?:\s*,\s*[-+]?\d[\d.eE+\-]*)+)")
#: The training split's words: ``Train: 3 [`` opens timm's training lines with the epoch.
_TRAIN_WORDS = frozenset(w for w, sp in SPLIT_ALIASES.items() if sp == "train")
_COUNTER_BRACKET = re.compile(r"\s*\[")
#: A value followed by another in parentheses, ``Loss 1.9273 (2.2421)`` (the ``AverageMeter`` of the PyTorch
#: ImageNet example, timm, Swin, DeiT…): the one in parentheses is the running mean, which is read.
_RUNNING_MEAN = re.compile(r"\s*\(\s*")
_CLOSE = re.compile(r"\s*\)")
#: A value printed after the word "best" (since the value before it) is a running best.
_BEST = re.compile(r"(?<![A-Za-z])best", re.IGNORECASE)


def is_held_out(name: str) -> bool:
    """Whether a logged name is a measurement of a held-out split (validation or test)."""
    return normalize(name)[0] in _HELD_OUT


def _words(text: str) -> list[str]:
    return [w.rstrip(".:-/") for w in _WORDS.findall(text) if w.rstrip(".:-/")]


def _name_before(before: str) -> str | None:
    """The name written before a value (the text since the previous value or separator), or None."""
    piece = _HEADING.split(_SEP.split(before)[-1])[-1]
    words = _words(piece)
    while words and words[-1].lower() in _FILLER:
        words.pop()
    if not words:
        return None
    words = words[-MAX_NAME_WORDS:]
    lead = next((k for k, w in enumerate(words) if w.lower() in _SPLITS), None)
    return " ".join(words[lead:] if lead is not None else words)


def _name_after(after: str) -> str | None:
    """The name written after a value (``0.52 C.E. Loss``, ``93% Accuracy``), up to the next separator."""
    piece = _SEP.split(after.lstrip("%"), maxsplit=1)[0]
    words = _words(piece)[:MAX_NAME_WORDS]
    return " ".join(words).replace(".", "") if words else None


class _Template:
    """One line layout: its slots' names, its counter slot and kind, the split it names."""

    def __init__(self, line: str, spans: Sequence[tuple[int, int]]) -> None:
        self.counter: int | None = None
        self.entity = False  # a slot counts subjects, folds… (:data:`ENTITY_COUNTERS`)
        self.kind = "epoch"
        self.names: list[str | None] = []
        ends = [0] + [b for _, b in spans]
        starts = [a for a, _ in spans] + [len(line)]
        for j, (a, b) in enumerate(spans):
            before = line[ends[j]:a]
            if _BEST.search(before):
                self.names.append(None)  # (``saved best.pt (PSNR 27.5)``: a running best, not a curve)
                continue
            name = _name_before(before)
            if name is None and not re.search(r"[A-Za-z]", _SEP.split(before)[-1]):
                name = _name_after(line[b:starts[j + 1]])
            last = name.split()[-1].lower() if name else ""
            self.entity |= last in ENTITY_COUNTERS
            if self.counter is None and (last in _EPOCH_WORDS or last in _STEP_WORDS):
                self.counter, self.kind = j, ("epoch" if last in _EPOCH_WORDS else "step")
                name = None
            elif self.counter is None and j == 0 and _LEAD_COUNTER.match(before) and line[b:b + 1] == "/":
                self.counter, self.kind = j, "step"
                name = None
            elif self.counter is None and name is not None and name.lower() in _TRAIN_WORDS \
                    and _COUNTER_BRACKET.match(line, b):
                self.counter, name = j, None  # (timm's ``Train: 3 [ 200/390 ( 51%)]``: the epoch, then the batch)
            self.names.append(name)
        for m in _NAME_LIST.finditer(line):  # ``IS, FID: 1.666, 341.353``: the names in order, then the values
            names = [n.strip() for n in m.group(1).split(",")]
            at = [j for j, (a, _) in enumerate(spans) if m.start(2) <= a < m.end(2)]
            if len(at) == len(names):
                for j, n in zip(at, names, strict=True):
                    self.names[j] = n
        for j in range(len(spans) - 1):
            if self.names[j] is not None and self.names[j + 1] is None \
                    and _RUNNING_MEAN.fullmatch(line[spans[j][1]:spans[j + 1][0]]) \
                    and _CLOSE.match(line, spans[j + 1][1]):
                self.names[j + 1], self.names[j] = self.names[j], None  # (``Loss 1.93 (2.24)``: the running mean)
        first = next((a for j, (a, _) in enumerate(spans) if self._measure(j)), len(line))
        words = [w for w in re.split(r"[^A-Za-z]+", line[:first].lower()) if w in _SPLITS]
        self.split = words[-1] if words else None  # (the split word nearest the measures, not a logger's name)
        carry = self.split
        for j, name in enumerate(self.names):
            if name is None:
                continue
            own = name.split()[0].lower()
            if own in _SPLITS:
                carry = own
            elif carry is not None:
                self.names[j] = f"{carry} {name}"
        self.names = [n if n is not None and is_measure(n) and not is_running_best(n) else None for n in self.names]
        #: the layout names no split: the heading printed before its line may (``Eval epoch: 4`` then ``mean_loss:
        #: 5.99``)
        self.unsplit = all(n is None or n.split()[0].lower() not in _SPLITS for n in self.names)
        #: the layout names a split and no measure (nor a running best): a heading (``Eval epoch: 4``, ``Dev
        #: Results``)
        self.heading = (words[-1] if words and all(n is None for n in self.names) and not _BEST.search(line)
                        else None)

    def _measure(self, j: int) -> bool:
        name = self.names[j]
        return name is not None and is_measure(name)

    def measures(self, values: Sequence[float], heading: str | None = None) -> dict[str, float]:
        """The named values of one line; ``heading``: the split of the heading printed before it, for a layout
        that names none."""
        pre = f"{heading} " if heading is not None and self.unsplit else ""
        return {pre + n: v for n, v in zip(self.names, values, strict=True) if n is not None}


def _key(line: str, spans: Sequence[tuple[int, int]]) -> str:
    parts, last = [], 0
    for a, b in spans:
        parts.append(line[last:a])
        parts.append("#")
        last = b
    parts.append(line[last:])
    return " ".join("".join(parts).split())


def template_records(lines: Sequence[str]) -> list[tuple[int, dict[str, Any]]]:
    """Epoch (or step) records of ``lines`` read by their repeated templates (the module's docstring), ``[(line,
    {"epoch": 3, "VAL PSNR": 27.5, …}), …]`` with 1-based line numbers; ``[]`` when the templates hold no held-out
    measurement with :data:`MIN_TEMPLATE_EVALS` values or more."""
    parsed: list[tuple[int, str, str, list[tuple[int, int]]]] = []
    for i, line in enumerate(lines, start=1):
        spans = [m.span() for m in _NUMBER.finditer(line)]
        if re.search(r"[A-Za-z]", line) and (spans or _HEADING_LINE.match(line)):
            parsed.append((i, line, _key(line, spans), spans))
    counts = Counter(k for _, _, k, _ in parsed)
    templates: dict[str, _Template] = {}
    for _, line, key, spans in parsed:
        if counts[key] >= MIN_TEMPLATE_LINES and key not in templates:
            templates[key] = _Template(line, spans)
    heading: tuple[str, int] | None = None  # the split of the last repeated heading, and its line
    kept = {k: t for k, t in templates.items() if any(n is not None for n in t.names)}
    axis = "epoch" if any(t.counter is not None and t.kind == "epoch" for t in templates.values()) else "step"
    records: list[tuple[int, dict[str, Any]]] = []
    unmarked: list[tuple[int, dict[str, float]]] = []
    for i, line, key, spans in parsed:
        t = kept.get(key)
        if t is None and key in templates and templates[key].counter is not None \
                and templates[key].kind == axis:
            t = templates[key]  # a counter line without measures (``Epoch 3/50``) opens its epoch
        h = templates.get(key)
        if h is not None and h.heading is not None:
            heading = (h.heading, i)
        if t is None or (t.entity and t.counter is None):
            continue  # (``Subject: 3 … valid_acc: 0.89``: one subject's final result, not an evaluation)
        values = [float(line[a:b]) for a, b in spans]
        near = heading[0] if heading is not None and i - heading[1] <= MAX_HEADING_LINES else None
        found = t.measures(values, near)
        if t.counter is not None and t.kind == axis:
            at = values[t.counter]
            if records and records[-1][1][axis] == at:
                records[-1][1].update(found)
            else:
                records.append((i, {axis: at, **found}))
        elif records:
            records[-1][1].update(found)
        elif found:
            if unmarked and not (found.keys() & unmarked[-1][1].keys()):
                unmarked[-1][1].update(found)
            else:
                unmarked.append((i, dict(found)))
    if not records:
        records = [(i, {"epoch": float(k), **f}) for k, (i, f) in enumerate(unmarked, start=1)]
    table = table_records(lines)
    return table if _evaluated(table) else records if _evaluated(records) else []


def _evaluated(records: list[tuple[int, dict[str, Any]]]) -> bool:
    """Whether ``records`` hold a held-out measurement with :data:`MIN_TEMPLATE_EVALS` values or more."""
    held = Counter(n for _, r in records for n in r if n not in ("epoch", "step") and is_held_out(n))
    return bool(held) and max(held.values()) >= MIN_TEMPLATE_EVALS


#: The cells of a table line: fields separated by a tab, two or more spaces, or a comma.
_CELL = re.compile(r"\t| {2,}|,\s*")


#: The cells of a row of numbers: any white space, comma, semicolon or bar between them.
_ROW_CELL = re.compile(r"[\s,;|]+")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in _CELL.split(line.strip()) if c.strip()]


def table_records(lines: Sequence[str]) -> list[tuple[int, dict[str, Any]]]:
    """Records of tables printed inside a text log: a header line of two or more names (no numbers), then rows of
    numbers alone with one cell per name (``Learning Rate\tTrain Loss\tValid Loss\tTrain Acc\tValid Acc`` then
    ``0.100000\t2.167975\t1.558900\t23.820250\t46.957588``, the tab-separated ``Logger`` of the widely copied
    ``pytorch-classification`` code, here after a block of arguments). A header's ``epoch``/``step`` column is
    the counter; without one its rows are epochs 1, 2, … (a header printed again starts again: a new run). Only
    measure columns are kept."""
    out: list[tuple[int, dict[str, Any]]] = []
    head: list[str] | None = None
    row = 0
    for i, line in enumerate(lines, start=1):
        cells = _cells(line)
        if len(cells) < 2:
            continue
        if all(re.search(r"[A-Za-z]", c) and _NUMBER.search(c) is None for c in cells):
            head, row = cells, 0
            continue
        if head is not None and len(cells) != len(head):
            cells = [c for c in _ROW_CELL.split(line.strip()) if c]  # (numbers a single space apart)
        if head is None or len(cells) != len(head):
            continue
        try:
            values = [float(c.rstrip("%")) for c in cells]
        except ValueError:
            continue
        row += 1
        low = [h.lower() for h in head]
        at = next(((w, values[k]) for k, w in enumerate(low) if w in ("epoch", "ep", "step", "iter", "iteration")),
                  ("epoch", float(row)))
        axis = "epoch" if at[0] in ("epoch", "ep") else "step"
        out.append((i, {axis: at[1], **{h: v for h, v in zip(head, values, strict=True)
                                        if h.lower() != at[0] and is_measure(h) and not is_running_best(h)}}))
    return out
