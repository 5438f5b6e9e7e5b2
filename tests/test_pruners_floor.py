"""Known answers of the HPO floor analysis (``bench/hpo_floor.py``): the clairvoyant oracle, the at-the-time rung
floor and the re-implementation of Ray Tune's ASHA on small tables of curves (lower is better, sequential trials).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import hpo_floor  # noqa: E402

# first trial: best 0.4 at its 4th evaluation; second: ahead at evaluation 1, behind at 3; third: behind at 1
A = np.array([2.0, 1.0, 0.5, 0.4, 0.45, 0.5])
B = np.array([1.9, 1.2, 0.6, 0.35, 0.3, 0.32])
C = np.array([2.1, 0.9, 0.45, 0.44, 0.43, 0.5])


def test_ray_asha_stops_below_the_quantile_of_the_recorded_last_values() -> None:
    # milestone 1: A records 2.0; B (1.9) beats it; C (2.1) is worse than the 1/3 quantile of [2.0, 1.9] -> stopped
    # milestone 3: A records 0.5; B's 0.6 is worse -> stopped at 3
    epochs, reported = hpo_floor.ray_asha([A, B, C], milestones=(1, 3), eta=3)
    assert [r.size for r in reported] == [6, 3, 1]
    assert epochs == 10


def test_ray_asha_without_the_first_milestone_keeps_the_late_starter() -> None:
    epochs, reported = hpo_floor.ray_asha([A, B, C], milestones=(3,), eta=3)
    # at 3: A 0.5 recorded; B 0.6 worse -> stopped; C 0.45 beats the quantile of [0.5, 0.6] -> runs to the end
    assert [r.size for r in reported] == [6, 3, 6]
    assert epochs == 15


def test_oracle_cuts_every_other_trial_at_its_first_evaluation() -> None:
    # the pick is B (0.3 at its 5th evaluation): A (first) runs to its own best (4), B to its best (5), C 1
    assert hpo_floor.oracle([A, B, C], pick_trial=1) == 4 + 5 + 1
    # the first trial is the pick: it alone runs (to its best)
    assert hpo_floor.oracle([B, A, C], pick_trial=0) == 5 + 1 + 1


def test_rung_floor_cuts_behind_the_best_earlier_trial_and_stops_survivors_at_their_best() -> None:
    # rung 3: B's best over 3 (0.6) is behind A's (0.5) -> cut at 3; C's (0.45) is ahead -> runs to its best (5)
    epochs, reported, cut = hpo_floor.rung_floor([A, B, C], rungs=(3,), margin=0.0, stop="best")
    assert [r.size for r in reported] == [4, 3, 5]
    assert (epochs, cut) == (12, 1)


def test_rung_floor_margin_keeps_a_noise_sized_gap() -> None:
    # the margin is 2 standard errors of the earlier curves' noise: a huge margin cuts nobody
    noisy = np.array([2.0, 0.3, 1.5, 0.35, 1.4, 0.25])  # its noise is far larger than B's 0.3 gap at rung 3
    _, reported, cut = hpo_floor.rung_floor([noisy, B], rungs=(3,), margin=2.0, stop="best")
    assert cut == 0 and reported[1].size == 5
    _, reported, cut = hpo_floor.rung_floor([noisy, B], rungs=(3,), margin=0.0, stop="best")
    assert cut == 1 and reported[1].size == 3
