"""Warm start (``[active_learning] init = "previous"``) trains for real from the earlier model.

DeePMD (``dp train --init-frz-model``): one training step at a negligible learning rate
from the earlier model gives back that model's predictions; the same step from fresh
weights (the default) does not. GAP has no weights to start from: it refits.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import read

from xfer.backends import get_backend

STILL = {"preset": "tiny", "numb_steps": 1, "start_lr": 1e-12, "stop_lr": 1e-13}


@pytest.mark.slow
def test_deepmd_warm_start_begins_with_the_previous_model(deepmd_sets, deepmd_model, tmp_path):
    train, valid = deepmd_sets
    backend = get_backend("deepmd")
    init = backend.warm_start(deepmd_model.path)
    assert init == {"init_frz_model": str(deepmd_model.path.resolve())}
    warm = backend.train(train, valid, tmp_path / "warm", 0, {**STILL, **init})
    fresh = backend.train(train, valid, tmp_path / "fresh", 0, STILL)
    assert warm.meta["hyper"]["init_frz_model"] == init["init_frz_model"]
    frames = read(valid, ":")

    def forces(model) -> np.ndarray:
        calc = backend.calculator(model)
        out = []
        for atoms in frames:
            atoms = atoms.copy()
            atoms.calc = calc
            out.append(atoms.get_forces())
        return np.concatenate(out)

    before = forces(deepmd_model)
    assert np.abs(forces(warm) - before).max() < 1e-6
    assert np.abs(forces(fresh) - before).max() > 1e-2
    assert get_backend("gap").warm_start(deepmd_model.path) == {}
