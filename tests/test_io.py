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


# ------------------------------------------------------------------------------------ JSON headers
def _crafted_safetensors(path, metadata):
    from safetensors.numpy import save_file
    save_file({"t0": np.zeros(2, np.float32)}, str(path), metadata=metadata)


@pytest.mark.parametrize("depth", [100_000, 500])
def test_deeply_nested_checkpoint_header_is_a_clear_value_error(tmp_path, depth):
    path = tmp_path / "deep.safetensors"
    tree = "[" * depth + "]" * depth
    _crafted_safetensors(path, {"deepnotes": '{"format": "deepnotes-checkpoint-1", "tree": ' + tree + "}"})
    with pytest.raises(ValueError, match=r"load_checkpoint: the checkpoint header of '.*deep.safetensors' is not a "
                                         r"valid JSON file \(lists/objects nested more than 100 levels deep\)"):
        io.load_checkpoint(path)
    _crafted_safetensors(path, {"deepnotes.keys": tree})
    with pytest.raises(ValueError, match=r"load_weights: the key order stored in '.*deep.safetensors' is not a "
                                         r"valid JSON file \(lists/objects nested"):
        io.load_weights(path)


def test_read_and_parse_json_errors_name_the_source(tmp_path):
    p = tmp_path / "x.json"
    p.write_bytes(b'{"a": [1, 2}')
    with pytest.raises(ValueError, match=r"^where: '.*x.json' is not a valid JSON file \(Expecting"):
        io.read_json(p, "where")
    p.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match=r"^where: '.*x.json' is not a valid JSON file"):
        io.read_json(p, "where")
    p.write_text('{"a": [[1]]}')
    assert io.read_json(p, "where") == {"a": [[1]]}
    assert io.parse_json("[[[]]]", "w", "s", max_depth=3) == [[[]]]
    with pytest.raises(ValueError, match=r"^w: s is not a valid JSON file \(lists/objects nested more than 2"):
        io.parse_json("[[[]]]", "w", "s", max_depth=2)
