"""The torchinfo-style summary: rows, totals and size estimates, checked against a torch twin of
LeNet-5 (parameter counts, output shapes, FlopCounterMode)."""

import builtins
import sys
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from deepnotes.analysis import ModelSummary, format_count, summary
from deepnotes.models import LeNet5

torch.set_num_threads(1)


def lenet_twin():
    conv = lambda cin, cout: torch.nn.Conv2d(cin, cout, 5)  # noqa: E731
    return torch.nn.Sequential(
        OrderedDict(
            features=torch.nn.Sequential(
                conv(1, 6), torch.nn.ReLU(), torch.nn.MaxPool2d(2), conv(6, 16), torch.nn.ReLU(), torch.nn.MaxPool2d(2)
            ),
            classifier=torch.nn.Sequential(
                torch.nn.Flatten(),
                torch.nn.Linear(400, 120),
                torch.nn.ReLU(),
                torch.nn.Linear(120, 84),
                torch.nn.ReLU(),
                torch.nn.Linear(84, 10),
            ),
        )
    )


def twin_leaf_outputs(model, x):
    shapes = OrderedDict()

    def hook(name):
        def record(mod, inputs, output):
            shapes[name] = tuple(output.shape)

        return record

    hs = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if n and not list(m.children())]
    fc = FlopCounterMode(display=False)
    with fc, torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    return shapes, fc.get_total_flops()


@pytest.mark.parametrize("batch", [1, 3])
def test_summary_rows_totals_and_sizes(capsys, batch):
    twin = lenet_twin()
    shapes, flops = twin_leaf_outputs(twin, torch.zeros(batch, 1, 32, 32))
    s = summary(LeNet5(), (1, 32, 32), batch_size=batch)
    printed = capsys.readouterr().out
    assert isinstance(s, ModelSummary) and printed.strip() == str(s).strip()
    n_params = sum(p.numel() for p in twin.parameters())
    assert s.total_params == n_params and s.trainable_params == n_params and s.non_trainable_params == 0
    assert f"Total params: {n_params:,}" in printed and "Non-trainable params: 0" in printed
    assert 2 * s.total_mult_adds == flops
    div, unit = (1e6, "M") if flops / 2 >= 1e6 else (1e3, "K")
    assert f"Total mult-adds ({unit}): {flops / 2 / div:,.2f}" in printed
    for name, shape in shapes.items():
        line = [ln for ln in printed.splitlines() if f"{name} (" in ln][0]
        assert "[" + ", ".join(map(str, shape)) + "]" in line
    fwd = 4 * sum(int(np.prod(v)) for v in shapes.values())
    assert s.input_size_mb == pytest.approx(4 * batch * 32 * 32 / 1e6)
    assert s.params_size_mb == pytest.approx(4 * n_params / 1e6)
    assert s.forward_pass_size_mb == pytest.approx(fwd / 1e6)
    assert s.forward_backward_pass_size_mb == pytest.approx(2 * fwd / 1e6)
    assert s.estimated_total_size_mb == pytest.approx((4 * batch * 1024 + 2 * fwd + 4 * n_params) / 1e6)
    assert f"Params size (MB): {4 * n_params / 1e6:.2f}" in printed
    assert f"Estimated Total Size (MB): {s.estimated_total_size_mb:.2f}" in printed


def test_summary_depth_frozen_float64_and_no_rf():
    m = LeNet5().double()
    m.features[0].weight.requires_grad_(False)
    s = summary(m, (1, 32, 32), depth=1, receptive_field=False, verbose=False)
    lines = s.text.splitlines()
    assert not any("features.0" in ln for ln in lines)
    feat = [ln for ln in lines if ln.lstrip("├─│ ").startswith("features (Sequential)")][0]
    assert feat.split()[-2] == f"{156 + 2416:,}"  # the hidden layers' parameters
    assert feat.split()[-1] == f"{6 * 28 * 28 * 25 + 16 * 10 * 10 * 150:,}"
    assert "RF" not in lines[1]
    assert s.non_trainable_params == 150 and "Non-trainable params: 150" in s.text
    assert s.params_size_mb == pytest.approx(8 * 61_706 / 1e6)
    assert s.input_size_mb == pytest.approx(8 * 1024 / 1e6)
    with pytest.raises(ValueError, match="summary: depth"):
        summary(m, (1, 32, 32), depth=-1)


def test_summary_shows_the_table_once_at_an_interactive_prompt(capsys, monkeypatch):
    monkeypatch.setattr(builtins, "_", None, raising=False)  # the display hook stores its value there
    # `>>> summary(model, size)` at a prompt: the call runs, then the prompt hands its value to the
    # display hook, which writes repr(value)
    s = summary(LeNet5(), (1, 32, 32))
    sys.__displayhook__(s)
    out = capsys.readouterr().out
    assert out.count(s.text) == 1 and out.count("Total params:") == 1
    assert out.rstrip().endswith(repr(s)) and "\n" not in repr(s)
    assert f"total_params={s.total_params:,}" in repr(s) and f"total_mult_adds={s.total_mult_adds:,}" in repr(s)
    assert str(s) == s.text  # print(s) shows the table on request
    quiet = summary(LeNet5(), (1, 32, 32), verbose=False)
    sys.__displayhook__(quiet)
    assert capsys.readouterr().out.count("Total params:") == 0


def test_summary_receptive_field_column():
    s = summary(LeNet5(), (1, 32, 32), verbose=False)
    line = [ln for ln in s.text.splitlines() if "features.5 (MaxPool2d)" in ln][0]
    assert line.split()[-1] == "16"


def test_format_count():
    assert format_count(2_415_919_104) == "2.42G"
    assert format_count(9_437_184) == "9.44M"
    assert format_count(589_824, digits=0) == "590K"
    assert format_count(2304, digits=1) == "2.3K"
    assert format_count(999) == "999"
