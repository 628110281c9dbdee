import numpy as np
import pytest

import deepnotes as dn
from deepnotes import data, nn, optim
from deepnotes.optim.lr_finder import lr_finder


def _setup():
    dn.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 5))
    y = (x @ rng.standard_normal(5) > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(5, 16, dtype=np.float64), nn.ReLU(), nn.Linear(16, 2, dtype=np.float64))
    opt = optim.SGD(model.parameters(), lr=0.123, momentum=0.9)
    return model, opt, data.DataLoader(data.TensorDataset(x, y), batch_size=32, shuffle=True)


def test_range_test_sweeps_geometrically_and_restores_everything():
    model, opt, loader = _setup()
    before = {k: v.data.copy() for k, v in model.state_dict().items()}
    res = lr_finder(model, opt, loader, start_lr=1e-4, end_lr=1e2, num_iter=40)
    lrs = np.array(res.lrs)
    np.testing.assert_allclose(lrs[1:] / lrs[:-1], (1e2 / 1e-4) ** (1 / 39), rtol=1e-12)
    assert lrs[0] == pytest.approx(1e-4)
    # the loss explodes at large rates: the test stops early, and the suggestion lies before that point
    assert res.diverged and len(res.lrs) < 40
    assert 1e-4 < res.suggestion < res.lrs[-1]
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k])
    assert opt.param_groups[0]["lr"] == 0.123 and not opt.state_dict()["state"]


def test_bad_arguments():
    model, opt, loader = _setup()
    with pytest.raises(ValueError, match="lr"):
        lr_finder(model, opt, loader, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="no batches"):
        lr_finder(model, opt, [], num_iter=10)


def test_suggestion_rule_on_synthetic_curves():
    """minimum/10 on a clear curve; no suggestion on a flat one; a caveat when still falling at the end."""
    from deepnotes.optim.lr_finder import analyse_curve

    lrs = np.logspace(-6, 1, 50)
    x = np.log10(lrs)
    valley = 2 - 1.5 / (1 + np.exp(-3 * (x + 3))) + np.where(x > -1, 20 * (x + 1) ** 2, 0)
    suggestion, min_lr, steepest, note = analyse_curve(lrs, valley, diverged=True)
    assert min_lr == lrs[np.argmin(valley)] and suggestion == pytest.approx(min_lr / 10)
    assert note is None and abs(np.log10(steepest) + 3) < 0.2
    flat = 2.3 + 0.01 * np.sin(x)
    suggestion, _, _, note = analyse_curve(lrs, flat, diverged=False)
    assert suggestion is None and note.startswith("no clear descent")
    falling = 2 - 0.2 * (x + 6)
    suggestion, min_lr, _, note = analyse_curve(lrs, falling, diverged=False)
    assert min_lr == lrs[-1] and suggestion == pytest.approx(lrs[-1] / 10) and "still falling" in note
    suggestion, _, _, note = analyse_curve(lrs[:3], valley[:3], diverged=True)
    assert suggestion is None and "too few steps" in note
