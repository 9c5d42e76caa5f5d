"""Warm start (``[active_learning] init = "previous"``) trains for real from the earlier model.

DeePMD: ``dp train --init-frz-model``: the first learning-curve row (step 1) of the warm
start already has the earlier model's accuracy, far below that of fresh random weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xfer.backends import get_backend


def force_rmse(model_dir: Path) -> np.ndarray:
    """rmse_f_trn of every row of dp's lcurve.out (columns named in its first line)."""
    with open(model_dir / "lcurve.out") as fh:
        names = next(fh).lstrip("#").split()
    rows = np.atleast_2d(np.loadtxt(model_dir / "lcurve.out"))
    return rows[:, names.index("rmse_f_trn")]


@pytest.mark.slow
def test_deepmd_warm_start_begins_where_the_previous_model_ended(
    deepmd_sets, deepmd_committee, tmp_path
):
    train, valid = deepmd_sets
    backend = get_backend("deepmd")
    previous, fresh = deepmd_committee  # seeds 0 and 1, 20 steps from random weights each
    hyper = {"preset": "tiny", "numb_steps": 20, **backend.warm_start(previous.path)}
    warm = backend.train(train, valid, tmp_path / "warm", 1, hyper)
    assert warm.meta["hyper"]["init_frz_model"] == str(previous.path.resolve())
    start_warm = force_rmse(tmp_path / "warm")[0]
    start_fresh = force_rmse(fresh.path.parent)[0]
    end_previous = force_rmse(previous.path.parent)[-1]
    assert start_warm < 0.5 * start_fresh, (start_warm, start_fresh)
    assert start_warm < 2.0 * end_previous, (start_warm, end_previous)
    assert backend.warm_start(previous.path) == {"init_frz_model": str(previous.path.resolve())}
    assert get_backend("gap").warm_start(previous.path) == {}  # GAP refits
