import importlib
import os
import signal
import stat
import subprocess
import sys
import time
import warnings

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
    state = {
        "epoch": 3,
        "model": {"w": np.arange(6.0).reshape(2, 3)},
        "opt": {
            "state": {0: {"step": np.array(5.0), "buf": np.ones(2, np.float32)}},
            "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0]}],
        },
        "history": [{"loss": 1.5}],
        "none": None,
        "flag": True,
    }
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


# ------------------------------------------------------------------------------------ temporary files
def _parts(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


@pytest.mark.parametrize("stage", ["write", "fsync", "replace"])
@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_failed_write_removes_its_temporary_file(tmp_path, monkeypatch, stage, exc):
    path = tmp_path / "w.safetensors"
    io.save_weights({"a": np.ones(3)}, path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise exc(f"simulated failure in {stage}")

    target = {"write": (io, "_write_all"), "fsync": (io.os, "fsync"), "replace": (io.os, "replace")}[stage]
    monkeypatch.setattr(*target, fail)
    with pytest.raises(exc):
        io.save_weights({"a": np.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _parts(tmp_path) == []


def test_part_files_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    """A writer killed with SIGKILL mid-write leaves its .part file; the next write of the same target
    removes it once it is stale, and leaves other targets' and live writers' files alone."""
    path = tmp_path / "c.safetensors"
    code = (
        "import os, signal, sys, numpy as np\n"
        "from deepnotes import io\n"
        "def killed(f, payload):\n"
        "    f.write(payload[:100]); f.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
        "io._write_all = killed\n"
        "io.save_checkpoint({'w': np.ones(1000)}, sys.argv[1])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL
    left = _parts(tmp_path)
    assert len(left) == 1 and left[0].startswith(".c.safetensors.tmp-")
    old = time.time() - io.STALE_PART_SECONDS - 5
    os.utime(tmp_path / left[0], (old, old))
    live = tmp_path / ".c.safetensors.tmp-live0000.part"  # a writer still at work
    live.write_bytes(b"x")
    others = [
        tmp_path / ".d.safetensors.tmp-abcd1234.part",  # another target's
        tmp_path / ".c.safetensors.tmp-x.tmp-abcd1234.part",  # target "c.safetensors.tmp-x"
        tmp_path / ".tmp-abcd1234.part",
    ]  # unattributable
    for p in others:
        p.write_bytes(b"x")
        os.utime(p, (old, old))
    io.save_checkpoint({"w": np.zeros(3)}, path)
    assert _parts(tmp_path) == sorted(p.name for p in [live, *others])
    np.testing.assert_array_equal(io.load_checkpoint(path)["w"], np.zeros(3))


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002, 0o027])
def test_written_files_honour_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        io.save_weights({"a": np.ones(2)}, tmp_path / "w.safetensors")
        io.save_checkpoint({"a": 1}, tmp_path / "sub" / "c.safetensors")
        io.atomic_write_bytes(tmp_path / "raw.bin", b"abc")
    finally:
        os.umask(previous)
    for p in (tmp_path / "w.safetensors", tmp_path / "sub" / "c.safetensors", tmp_path / "raw.bin"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask, (p, oct(p.stat().st_mode))


def test_rewrite_keeps_the_permissions_of_the_replaced_file(tmp_path):
    path = tmp_path / "w.safetensors"
    io.save_weights({"a": np.ones(2)}, path)
    os.chmod(path, 0o640)
    io.save_weights({"a": np.zeros(2)}, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


# ------------------------------------------------------------------------------------ JSON headers
def _crafted_safetensors(path, metadata):
    from safetensors.numpy import save_file

    save_file({"t0": np.zeros(2, np.float32)}, str(path), metadata=metadata)


@pytest.mark.parametrize("depth", [100_000, 500])
def test_deeply_nested_checkpoint_header_is_a_clear_value_error(tmp_path, depth):
    path = tmp_path / "deep.safetensors"
    tree = "[" * depth + "]" * depth
    _crafted_safetensors(path, {"deepnotes": '{"format": "deepnotes-checkpoint-1", "tree": ' + tree + "}"})
    with pytest.raises(
        ValueError,
        match=r"load_checkpoint: the checkpoint header of '.*deep.safetensors' is not a "
        r"valid JSON file \(lists/objects nested more than 100 levels deep\)",
    ):
        io.load_checkpoint(path)
    _crafted_safetensors(path, {"deepnotes.keys": tree})
    with pytest.raises(
        ValueError,
        match=r"load_weights: the key order stored in '.*deep.safetensors' is not a "
        r"valid JSON file \(lists/objects nested",
    ):
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


# ------------------------------------------------------------------------------------ torch dtypes
def test_bfloat16_pt_file_loads_as_exact_float32(tmp_path):
    torch = importlib.import_module("torch")
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4)).to(torch.bfloat16)
    torch.save(tm.state_dict(), tmp_path / "bf16.pt")
    sd = io.load_torch_state_dict(tmp_path / "bf16.pt")
    for k, v in tm.state_dict().items():
        expect = v.to(torch.float32).numpy() if v.dtype == torch.bfloat16 else v.numpy()
        assert sd[k].dtype == expect.dtype, k
        np.testing.assert_array_equal(sd[k], expect)
        if v.dtype == torch.bfloat16:  # the round trip back to bfloat16 is exact
            assert torch.equal(torch.from_numpy(sd[k]).to(torch.bfloat16), v)
    m = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4)).eval()
    m.load_state_dict(sd)
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    ref = tm.float().eval()(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(m(dn.tensor(x)).data, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "make, dtype_name",
    [
        (lambda torch: torch.zeros(3).to(torch.float8_e4m3fn), "torch.float8_e4m3fn"),
        (lambda torch: torch.zeros(3, dtype=torch.complex64).to(torch.complex32), "torch.complex32"),
        (lambda torch: torch.quantize_per_tensor(torch.zeros(3), 0.1, 0, torch.qint8), "torch.qint8"),
    ],
)
def test_unsupported_torch_dtypes_are_named(tmp_path, make, dtype_name):
    torch = importlib.import_module("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.save({"fine": torch.ones(2), "odd.weight": make(torch)}, tmp_path / "odd.pt")
    with (
        warnings.catch_warnings(),
        pytest.raises(
            ValueError,
            match=rf"load_torch_state_dict: '.*odd.pt': entry 'odd.weight' has dtype {dtype_name}, "
            "which NumPy cannot hold",
        ),
    ):
        warnings.simplefilter("ignore")  # torch's own deprecation notes on quantized storage
        io.load_torch_state_dict(tmp_path / "odd.pt")


def test_sparse_torch_tensor_is_named(tmp_path):
    torch = importlib.import_module("torch")
    torch.save({"s": torch.eye(3).to_sparse()}, tmp_path / "sp.pt")
    with pytest.raises(ValueError, match=r"entry 's' is a torch.sparse_coo tensor; expected a dense"):
        io.load_torch_state_dict(tmp_path / "sp.pt")


def test_save_weights_of_a_bfloat16_torch_state_dict(tmp_path):
    torch = importlib.import_module("torch")
    w = torch.randn(4, 3).to(torch.bfloat16)
    io.save_weights({"w": w}, tmp_path / "w.safetensors")
    got = io.load_weights(tmp_path / "w.safetensors")["w"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, w.float().numpy())


def test_bfloat16_safetensors_file_loads_as_exact_float32(tmp_path):
    torch = importlib.import_module("torch")
    from safetensors.torch import save_file

    torch.manual_seed(1)
    tensors = {
        "w": torch.randn(4, 3).to(torch.bfloat16),
        "b": torch.randn(4),
        "n": torch.arange(3),
        "e": torch.zeros(0, 2, dtype=torch.bfloat16),
        "special": torch.tensor([float("inf"), -0.0, float("nan"), 1e-40, -3e38]).to(torch.bfloat16),
    }
    save_file(tensors, str(tmp_path / "m.safetensors"))
    for sd in (io.load_weights(tmp_path / "m.safetensors"), io.load_torch_state_dict(tmp_path / "m.safetensors")):
        assert set(sd) == set(tensors)
        for k, v in tensors.items():
            expect = v.float().numpy() if v.dtype == torch.bfloat16 else v.numpy()
            assert sd[k].dtype == expect.dtype and sd[k].shape == expect.shape, k
            np.testing.assert_array_equal(sd[k], expect)
            assert np.array_equal(np.signbit(sd[k]), np.signbit(expect))


def test_float8_safetensors_entry_is_named(tmp_path):
    torch = importlib.import_module("torch")
    from safetensors.torch import save_file

    save_file({"ok": torch.ones(2), "q": torch.zeros(3).to(torch.float8_e4m3fn)}, str(tmp_path / "f8.safetensors"))
    with pytest.raises(
        ValueError,
        match=r"load_weights: '.*f8.safetensors': entry 'q' has dtype F8_E4M3, which "
        r"NumPy cannot hold",
    ):
        io.load_weights(tmp_path / "f8.safetensors")


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
    _train(ref_model, ref_opt, 3, seed=2)  # uninterrupted

    model, opt = make()
    _train(model, opt, 3, seed=1)
    path = tmp_path / "ckpt.safetensors"
    dn.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3, "note": "mid"}, path)
    model2, opt2 = make()  # a fresh process would start like this
    ckpt = dn.load(path, weights_only=True)
    assert ckpt["epoch"] == 3 and ckpt["note"] == "mid"
    assert all(isinstance(v, dn.Tensor) for v in ckpt["model"].values())
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optimizer"])
    _train(model2, opt2, 3, seed=2)
    for a, b in zip(model2.parameters(), ref_model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_save_load_nesting_types_and_safety(tmp_path):
    obj = {
        "t": dn.tensor([[1.0, 2.0]], requires_grad=True),
        "a": np.arange(3, dtype=np.int16),
        "nested": [1, 2.5, "s", None, True, (dn.zeros(0, 2), {7: dn.tensor(3)})],
        "empty": {},
        "scalar": dn.tensor(1.5),
    }
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
    assert raw[8:9] == b"{" and b"deepnotes" in raw[8 : 8 + n]
    assert not list(tmp_path.glob(".tmp-*"))  # the atomic writer left no temporary file
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
