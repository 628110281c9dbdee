import importlib
import os

import numpy as np
import pytest

import deepnotes as dn
from deepnotes import io, nn


def test_weights_round_trip_and_no_pickle(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    path = tmp_path / "w.safetensors"
    io.save_weights(model.state_dict(), path)
    loaded = io.load_weights(path)
    assert list(loaded) == list(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(loaded[k], v.data)
        assert loaded[k].dtype == v.data.dtype
    # the file is safetensors: an 8-byte little-endian header length then JSON
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert raw[8:9] == b"{" and n < len(raw)


def test_checkpoint_round_trip_nested(tmp_path):
    state = {"epoch": 3, "model": {"w": np.arange(6.0).reshape(2, 3)},
             "opt": {"state": {0: {"step": np.array(5.0), "buf": np.ones(2, np.float32)}},
                     "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0]}]},
             "history": [{"loss": 1.5}], "none": None, "flag": True}
    path = tmp_path / "c.safetensors"
    io.save_checkpoint(state, path)
    out = io.load_checkpoint(path)
    assert out["epoch"] == 3 and out["flag"] is True and out["none"] is None
    np.testing.assert_array_equal(out["model"]["w"], state["model"]["w"])
    assert list(out["opt"]["state"].keys()) == [0]
    assert out["opt"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert out["opt"]["state"][0]["buf"].dtype == np.float32


def test_missing_and_corrupt_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="load_checkpoint: no file at"):
        io.load_checkpoint(tmp_path / "nope.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!garbage")
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        io.load_checkpoint(bad)
    # a valid safetensors file that is not a checkpoint
    io.save_weights({"a": np.zeros(2)}, tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="not a deepnotes checkpoint"):
        io.load_checkpoint(tmp_path / "w.safetensors")


def test_interrupted_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.safetensors"
    io.save_checkpoint({"epoch": 1, "w": np.ones(1000)}, path)
    before = path.read_bytes()

    def broken(f, payload):
        f.write(payload[: len(payload) // 2])
        raise KeyboardInterrupt("simulated crash mid-write")

    monkeypatch.setattr(io, "_write_all", broken)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"epoch": 2, "w": np.zeros(1000)}, path)
    assert path.read_bytes() == before
    assert io.load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]  # no temp file left behind


def test_unsupported_value_is_named(tmp_path):
    with pytest.raises(TypeError, match=r"cannot store object at \.x"):
        io.save_checkpoint({"x": object()}, tmp_path / "c.safetensors")


def test_torch_state_dict_loads_through_safetensors(tmp_path):
    torch = importlib.import_module("torch")
    tm = torch.nn.Linear(3, 2).double()
    io.save_weights({k: v for k, v in tm.state_dict().items()}, tmp_path / "t.safetensors")
    m = nn.Linear(3, 2, dtype=np.float64)
    m.load_state_dict(io.load_weights(tmp_path / "t.safetensors"))
    x = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(m(dn.tensor(x)).data, tm(torch.tensor(x)).detach().numpy(), rtol=1e-12)


def test_torch_pt_file_loads_without_pickle_code(tmp_path):
    torch = importlib.import_module("torch")
    tm = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3))
    torch.save({"state_dict": tm.state_dict(), "epoch": 3}, tmp_path / "m.pt")
    sd = io.load_torch_state_dict(tmp_path / "m.pt")
    m = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3))
    m.load_state_dict(sd)
    for k, v in tm.state_dict().items():
        np.testing.assert_array_equal(m.state_dict()[k].data, v.numpy())

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    torch.save({"w": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="cannot read .* as a weights-only torch file"):
        io.load_torch_state_dict(tmp_path / "evil.pt")
    with pytest.raises(FileNotFoundError, match="no file at"):
        io.load_torch_state_dict(tmp_path / "missing.pt")


# ------------------------------------------------------------------------------------ deepnotes.save / load
def _train(model, opt, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = dn.tensor(rng.standard_normal((8, 3)).astype(np.float32))
        y = dn.tensor(rng.standard_normal((8, 2)).astype(np.float32))
        opt.zero_grad()
        dn.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_save_load_round_trip_resumes_training_exactly(tmp_path, opt_name):
    def make():
        dn.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        kw = dict(lr=0.05, momentum=0.9) if opt_name == "SGD" else dict(lr=0.01, betas=(0.8, 0.95))
        return model, getattr(dn.optim, opt_name)(model.parameters(), **kw)

    ref_model, ref_opt = make()
    _train(ref_model, ref_opt, 3, seed=1)
    _train(ref_model, ref_opt, 3, seed=2)          # uninterrupted

    model, opt = make()
    _train(model, opt, 3, seed=1)
    path = tmp_path / "ckpt.safetensors"
    dn.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3, "note": "mid"}, path)
    model2, opt2 = make()                          # a fresh process would start like this
    ckpt = dn.load(path, weights_only=True)
    assert ckpt["epoch"] == 3 and ckpt["note"] == "mid"
    assert all(isinstance(v, dn.Tensor) for v in ckpt["model"].values())
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optimizer"])
    _train(model2, opt2, 3, seed=2)
    for a, b in zip(model2.parameters(), ref_model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_save_load_nesting_types_and_safety(tmp_path):
    obj = {"t": dn.tensor([[1.0, 2.0]], requires_grad=True), "a": np.arange(3, dtype=np.int16),
           "nested": [1, 2.5, "s", None, True, (dn.zeros(0, 2), {7: dn.tensor(3)})],
           "empty": {}, "scalar": dn.tensor(1.5)}
    path = tmp_path / "obj.safetensors"
    dn.save(obj, path)
    back = dn.load(path)
    assert back["t"].requires_grad and back["t"].dtype == np.float32
    np.testing.assert_array_equal(back["t"].data, [[1.0, 2.0]])
    assert isinstance(back["a"], np.ndarray) and back["a"].dtype == np.int16
    nested = back["nested"]
    assert nested[:5] == [1, 2.5, "s", None, True] and isinstance(nested[5], tuple)
    assert nested[5][0].shape == (0, 2) and nested[5][1][7].item() == 3 and nested[5][1][7].dtype == np.int64
    assert back["empty"] == {} and back["scalar"].shape == ()
    # safetensors on disk: the header is JSON, nothing is pickled
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert raw[8:9] == b"{" and b"deepnotes" in raw[8:8 + n]
    assert not list(tmp_path.glob(".tmp-*"))          # the atomic writer left no temporary file
    with pytest.raises(TypeError, match="save: cannot store object at .nested"):
        dn.save({"nested": [object()]}, tmp_path / "bad.safetensors")
    assert not (tmp_path / "bad.safetensors").exists()
    with pytest.raises(FileNotFoundError, match="load: no file"):
        dn.load(tmp_path / "missing.safetensors")


def test_load_refuses_torch_files_with_a_pointer(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(ValueError, match=r"torch .*deepnotes\.io\.load_torch_state_dict"):
        dn.load(path)
    renamed = tmp_path / "model.weights"
    renamed.write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="load_torch_state_dict"):
        dn.load(renamed)
    np.testing.assert_array_equal(io.load_torch_state_dict(path)["w"], np.ones(2))


def test_zero_dimensional_arrays_keep_their_shape(tmp_path):
    bn = nn.BatchNorm1d(3)
    io.save_weights(bn, tmp_path / "bn.safetensors")
    assert io.load_weights(tmp_path / "bn.safetensors")["num_batches_tracked"].shape == ()
    io.save_checkpoint({"step": np.array(2.0)}, tmp_path / "c.safetensors")
    assert io.load_checkpoint(tmp_path / "c.safetensors")["step"].shape == ()
