"""Peak memory of ``gapwatch analyze`` on big logs, against the log's size (issue 16, item 10: peak RSS must stay
≤ 2× the log's size plus a constant).

Generates, in a temporary directory (deleted afterwards), one log per format and size:

* **keras-csv**: a Keras ``CSVLogger`` file (``epoch,accuracy,loss,val_accuracy,val_loss``, one row per epoch,
  5 significant digits, ~39 bytes a row);
* **narrow-csv**: a Keras ``CSVLogger`` file of the narrowest common shape, ``epoch,loss,val_loss`` (~24 bytes a
  row: the most points per byte);
* **jsonl**: JSON Lines records ``{"epoch": e, "step": s, "train_loss": x, "val_loss": y, "val_acc": z}``
  (~95 bytes a record), the shape :mod:`gapwatch.readers.jsonl` reads;
* **tensorboard**: one ``events.out.tfevents.*`` file, ``train/loss`` (``simple_value``) at every step and
  ``val/loss`` every :data:`VAL_EVERY` steps; the records are laid out byte by byte as ``event_pb2`` would
  serialise them (wall_time, step, summary{value{tag, simple_value}}; checked against ``event_pb2`` when
  TensorBoard is installed) and framed with the masked CRC-32C of :mod:`gapwatch.readers._tfrecord`, vectorised,
  so a 500 MB file takes seconds to write.

For each log it runs ``gapwatch analyze FILE --json --no-forecast`` (and, with ``--forecast``, the default
forecast too) in a fresh process under ``/usr/bin/time -f "%M %U %S %e"``: peak RSS (KiB → MB), CPU seconds and
wall seconds, and prints peak RSS / file size. ``--stages`` also runs each stage in one fresh process and reads
the peak RSS (``VmHWM``) after each, resetting it between stages (``/proc/self/clear_refs``, Linux): reading
(the reader's Parts), the History build, the analysis, the JSON document.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_memory.py --sizes 10 100 500 \\
        [--formats keras-csv jsonl tensorboard] [--forecast] [--stages] [--out bench/results/memory.md]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: Validation points every this many training steps (TensorBoard log).
VAL_EVERY = 10
#: Rows generated per chunk (bounds the generator's own memory).
CHUNK_ROWS = 500_000
FORMATS = ("keras-csv", "narrow-csv", "jsonl", "tensorboard")


# ----------------------------------------------------------------------------- generators
def _curves(start: int, n: int, total: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation losses of rows ``start..start+n`` of ``total`` (validation U-shaped)."""
    i = np.arange(start, start + n, dtype=float)
    u = i / max(total - 1, 1)
    train = 2.0 / np.sqrt(i + 1.0) + 0.02 * rng.random(n)
    val = 0.5 + 1.2 * (u - 0.35) ** 2 + 0.01 * rng.random(n)
    return train, val


def _write_csv(path: Path, target_bytes: int, bytes_per_row: int, header: str,
               row: Callable[[int, float, float], str], seed: int) -> int:
    """A CSV of about ``target_bytes`` bytes: ``header``, then ``row(epoch, train, val)`` for the curves of
    :func:`_curves`, :data:`CHUNK_ROWS` rows at a time; returns the rows written."""
    rng = np.random.default_rng(seed)
    rows = max(10, target_bytes // bytes_per_row)
    with open(path, "w") as fh:
        fh.write(header)
        for a in range(0, rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, rows - a)
            tr, va = _curves(a, n, rows, rng)
            fh.write("".join(row(a + k, float(tr[k]), float(va[k])) for k in range(n)))
    return rows


def write_keras_csv(path: Path, target_bytes: int, seed: int = 0) -> int:
    """A Keras CSVLogger file of about ``target_bytes`` bytes; returns the rows written."""
    return _write_csv(path, target_bytes, 39, "epoch,accuracy,loss,val_accuracy,val_loss\n",
                      lambda e, tr, va: f"{e},{1.0 - tr / 3.0:.5g},{tr:.5g},{1.0 - va / 2.0:.5g},{va:.5g}\n", seed)


def write_narrow_csv(path: Path, target_bytes: int, seed: int = 0) -> int:
    """A Keras CSVLogger file of the narrowest common shape, ``epoch,loss,val_loss`` (~24 bytes a row, so the
    most points per byte and the detectors' series-sized temporaries the largest share of the file), of about
    ``target_bytes`` bytes; returns the rows written."""
    return _write_csv(path, target_bytes, 24, "epoch,loss,val_loss\n", lambda e, tr, va: f"{e},{tr:.5g},{va:.5g}\n",
                      seed)


def write_jsonl(path: Path, target_bytes: int, seed: int = 0) -> int:
    """A JSON Lines log of about ``target_bytes`` bytes; returns the records written."""
    rng = np.random.default_rng(seed)
    rows = max(10, target_bytes // 95)
    with open(path, "w") as fh:
        for a in range(0, rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, rows - a)
            tr, va = _curves(a, n, rows, rng)
            fh.write("".join(
                f'{{"epoch": {a + k + 1}, "step": {(a + k + 1) * 10}, "train_loss": {tr[k]:.6g}, '
                f'"val_loss": {va[k]:.6g}, "val_acc": {1.0 - va[k] / 2:.6g}}}\n' for k in range(n)))
    return rows


def _varint_cols(v: np.ndarray) -> np.ndarray:
    """Fixed-width varints of ``v`` (all of the same byte width): a ``(n, width)`` uint8 array."""
    width = max(1, (int(v.max()).bit_length() + 6) // 7)
    out = np.empty((v.size, width), np.uint8)
    x = v.astype(np.uint64)
    for k in range(width):
        b = (x >> np.uint64(7 * k)) & np.uint64(0x7F)
        out[:, k] = b | (np.uint64(0x80) if k < width - 1 else np.uint64(0))
    return out


def _event_rows(wall: np.ndarray, step: np.ndarray, tag: bytes, val: np.ndarray) -> np.ndarray:
    """Serialized ``Event(wall_time, step, summary{value{tag, simple_value}})`` records, one per row (steps of
    one varint width): ``(n, L)`` uint8."""
    sv = _varint_cols(step)
    value = bytes([0x0A, len(tag)]) + tag  # Summary.Value.tag (field 1)
    inner_len = len(value) + 5  # + simple_value (field 2, fixed32)
    summary_len = 2 + inner_len  # Summary.value (field 1, length-delimited)
    n = step.size
    parts = [
        np.full((n, 1), 0x09, np.uint8), np.ascontiguousarray(wall.astype("<f8")).view(np.uint8).reshape(n, 8),
        np.full((n, 1), 0x10, np.uint8), sv,
        np.tile(np.frombuffer(bytes([0x2A, summary_len, 0x0A, inner_len]) + value + b"\x15", np.uint8), (n, 1)),
        np.ascontiguousarray(val.astype("<f4")).view(np.uint8).reshape(n, 4),
    ]
    return np.concatenate(parts, axis=1)


def _framed(rows: np.ndarray) -> bytes:
    """TFRecord framing of every row (all of one length), with both masked CRCs."""
    from gapwatch.readers._tfrecord import masked_crc32c_rows

    n, L = rows.shape
    hdr = np.tile(np.frombuffer(struct.pack("<Q", L), np.uint8), (n, 1))
    hcrc = np.tile(masked_crc32c_rows(hdr[:1]).view(np.uint8), (n, 1))
    dcrc = masked_crc32c_rows(rows).view(np.uint8).reshape(n, 4)
    return np.concatenate([hdr, hcrc, rows, dcrc], axis=1).tobytes()


def write_tensorboard(path: Path, target_bytes: int, seed: int = 0) -> int:
    """One event file of about ``target_bytes`` bytes; returns the scalars written."""
    rng = np.random.default_rng(seed)
    steps_total = max(VAL_EVERY, int(target_bytes / (47 * (1 + 1 / VAL_EVERY))))
    n_pts = 0
    with open(path, "wb") as fh:
        from gapwatch.readers._tfrecord import frame

        head = b"\x09" + struct.pack("<d", 1.7e9) + b"\x1a\x0dbrain.Event:2"  # wall_time, file_version
        fh.write(frame(head))
        for a in range(1, steps_total + 1, CHUNK_ROWS):
            n = min(CHUNK_ROWS, steps_total + 1 - a)
            steps = np.arange(a, a + n, dtype=np.int64)
            tr, va = _curves(a - 1, n, steps_total, rng)
            vm = steps % VAL_EVERY == 0
            width = np.asarray([(int(s).bit_length() + 6) // 7 for s in (steps[0], steps[-1])])
            cuts = [0, n] if width[0] == width[1] else [0, int(np.searchsorted(steps, 1 << (7 * width[0]))), n]
            for lo, hi in zip(cuts[:-1], cuts[1:]):
                s = steps[lo:hi]
                wall = 1.7e9 + s * 1e-3
                fh.write(_framed(_event_rows(wall, s, b"train/loss", tr[lo:hi])))
                m = vm[lo:hi]
                if m.any():
                    fh.write(_framed(_event_rows(wall[m], s[m], b"val/loss", va[lo:hi][m])))
                n_pts += int(s.size + m.sum())
    return n_pts


WRITERS = {"keras-csv": (write_keras_csv, "log.csv"), "narrow-csv": (write_narrow_csv, "narrow.csv"),
           "jsonl": (write_jsonl, "log.jsonl"),
           "tensorboard": (write_tensorboard, "events.out.tfevents.1700000000.bench")}


def check_tensorboard_writer(tmp: Path) -> None:
    """The hand-laid records equal what ``event_pb2`` reads (skipped without TensorBoard)."""
    try:
        from gapwatch.readers import _tfrecord as tfr
    except ImportError:  # pragma: no cover
        return
    f = tmp / "events.out.tfevents.check"
    write_tensorboard(f, 50_000)
    try:
        ref = tfr.read_scalars_reference(f)
    except ImportError:
        return
    fast = tfr.read_scalars(f)
    for tag, (steps, vals) in ref.items():
        assert np.array_equal(fast.tags[tag][1], steps) and np.array_equal(fast.tags[tag][3], vals), tag
    assert sorted(ref) == ["train/loss", "val/loss"], sorted(ref)
    f.unlink()


# ----------------------------------------------------------------------------- measuring
def _gapwatch() -> str:
    exe = ROOT / ".venv" / "bin" / "gapwatch"
    return str(exe) if exe.exists() else "gapwatch"


def measure_cli(path: Path, forecast: bool) -> dict[str, float]:
    """Peak RSS (MB), CPU and wall seconds of ``gapwatch analyze PATH --json`` in a fresh process."""
    cmd = ["/usr/bin/time", "-f", "GWTIME %M %U %S %e", _gapwatch(), "analyze", str(path), "--json",
           "--no-examples", "--forecast" if forecast else "--no-forecast"]
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                       check=False)
    line = next((ln for ln in p.stderr.splitlines() if ln.startswith("GWTIME ")), None)
    if line is None or p.returncode not in (0, 3):
        raise RuntimeError(f"{cmd} failed ({p.returncode}): {p.stderr[-2000:]}")
    kb, user, sys_, wall = (float(x) for x in line.split()[1:])
    return {"rss_mb": kb * 1024 / 1e6, "cpu_s": user + sys_, "wall_s": wall, "json_bytes": len(p.stdout)}


def _stage_script() -> str:
    return r"""
import json, sys
from pathlib import Path

def status(key):
    with open('/proc/self/status') as fh:
        for ln in fh:
            if ln.startswith(key):
                return int(ln.split()[1]) * 1024 / 1e6
    return float('nan')

def reset():
    try:
        with open('/proc/self/clear_refs', 'w') as fh:
            fh.write('5')
    except OSError:
        pass

path = Path(sys.argv[1])
from gapwatch import readers
from gapwatch.readers import _parts
from gapwatch.analysis import analyze
out = {'imports': (status('VmRSS:'), status('VmHWM:'))}
rd = readers.sniff(path)
reset()
parts = readers.read_parts(rd, path, path.stem)
out['reading'] = (status('VmRSS:'), status('VmHWM:'))
reset()
try:
    h = _parts.build(parts, consume=True)  # what readers.load does
except TypeError:  # code before build(consume=)
    h = _parts.build(parts)
del parts
out['History build'] = (status('VmRSS:'), status('VmHWM:'))
if len(sys.argv) > 2 and sys.argv[2] == 'read-only':
    print('GWSTAGES ' + json.dumps(out))
    sys.exit(0)
reset()
res = analyze(h)
out['analysis'] = (status('VmRSS:'), status('VmHWM:'))
reset()
doc = json.dumps(res.to_dict())
out['JSON'] = (status('VmRSS:'), status('VmHWM:'))
print('GWSTAGES ' + json.dumps(out))
"""


def measure_stages(path: Path, read_only: bool = False) -> dict[str, tuple[float, float]]:
    """RSS after, and peak RSS during, each stage (MB), in one fresh process (``read_only``: reading and the
    History build only)."""
    extra = ["read-only"] if read_only else []
    p = subprocess.run([sys.executable, "-c", _stage_script(), str(path), *extra], capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1"}, check=False)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("GWSTAGES ")), None)
    if line is None:
        raise RuntimeError(f"stages failed on {path}: {p.stderr[-2000:]}")
    import json

    return {k: (float(v[0]), float(v[1])) for k, v in json.loads(line[len("GWSTAGES "):]).items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[10, 100], help="log sizes in MB")
    ap.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    ap.add_argument("--forecast", action="store_true", help="also run with the default forecast")
    ap.add_argument("--stages", action="store_true", help="also measure the peak of each stage")
    ap.add_argument("--read-only", action="store_true",
                    help="no CLI run and no analysis: the peaks of reading and of the History build only")
    ap.add_argument("--tmp", type=Path, default=None, help="where to write the logs (default: a temp dir)")
    ap.add_argument("--out", type=Path, default=None, help="append the markdown here")
    a = ap.parse_args(argv)
    with open("/proc/cpuinfo") as fh:
        cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")),
                   platform.processor())
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
                         check=False).stdout.strip()
    # the code measured: the working tree, or an exported tree on PYTHONPATH (then say so, not the checkout's HEAD)
    where = subprocess.run([sys.executable, "-c", "import gapwatch; print(gapwatch.__file__)"], capture_output=True,
                           text=True, check=False).stdout.strip()
    code = (f"git {rev} (+ working tree)" if where.startswith(str(ROOT)) else
            f"gapwatch imported from {Path(where).parent.parent} (PYTHONPATH; the checkout is at git {rev})")
    tmp = Path(tempfile.mkdtemp(prefix="gapwatch_mem_", dir=a.tmp))
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    args = " ".join(sys.argv[1:]) if argv is None else " ".join(argv)
    out = [f"- command: `OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_memory.py {args}`",
           f"- machine: {cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GiB (shared with other jobs), Python "
           f"{platform.python_version()}",
           f"- date: {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC; code: {code}",
           "- peak RSS: `/usr/bin/time -f %M` of `gapwatch analyze FILE --json --no-examples --no-forecast` "
           "in a fresh process", "",
           "| format | file MB | points | peak RSS MB | RSS / size | CPU s | wall s | forecast |",
           "|---|---:|---:|---:|---:|---:|---:|---|"]
    stage_rows: list[str] = []
    try:
        check_tensorboard_writer(tmp)
        for size in a.sizes:
            for fmt in a.formats:
                write, name = WRITERS[fmt]
                f = tmp / name
                pts = write(f, int(size * 1e6))
                mb = f.stat().st_size / 1e6
                for fc in [] if a.read_only else ([False, True] if a.forecast else [False]):
                    m = measure_cli(f, fc)
                    row = (f"| {fmt} | {mb:.1f} | {pts:,} | {m['rss_mb']:.0f} | {m['rss_mb'] / mb:.2f} | "
                           f"{m['cpu_s']:.1f} | {m['wall_s']:.1f} | {'default' if fc else 'off'} |")
                    print(row, flush=True)
                    out.append(row)
                if a.stages or a.read_only:
                    st = measure_stages(f, a.read_only)
                    cells = " | ".join(f"{st[k][1]:.0f} ({st[k][0]:.0f})" if k in st else "–" for k in
                                       ("reading", "History build", "analysis", "JSON"))
                    peak = max(v[1] for k, v in st.items() if k != "imports")
                    stage_rows.append(f"| {fmt} | {mb:.1f} | {st['imports'][0]:.0f} | {cells} | {peak / mb:.2f} |")
                    print(stage_rows[-1], flush=True)
                f.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if stage_rows:
        out += ["", "Peak RSS during each stage, MB (RSS after it in brackets), one fresh process per log; the peak "
                "is reset between stages (`/proc/self/clear_refs`):", "",
                "| format | file MB | after imports | reading | History build | analysis | JSON | peak / size |",
                "|---|---:|---:|---:|---:|---:|---:|---:|", *stage_rows]
    text = "\n".join(out) + "\n"
    print(text)
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        with open(a.out, "a") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
