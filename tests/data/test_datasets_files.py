"""MNIST / Fashion-MNIST IDX and CIFAR-10 binary readers, on files the tests write.

Oracles: torchvision's own IDX reader (``read_sn3_pascalvincent_tensor``, pure Python) for IDX files,
and the published record layout, written here byte by byte with ``struct``, for CIFAR-10.
"""

import gzip
import os
import re
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
import torch
from torchvision.datasets.mnist import read_image_file, read_label_file, read_sn3_pascalvincent_tensor

from deepnotes.data import CIFAR10, MNIST, DataLoader, FashionMNIST, default_collate
from deepnotes.data.datasets import read_cifar10_batch, read_idx


def write_idx(path, array, type_code=0x08, compress=False, magic=None):
    array = np.asarray(array)
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[type_code]
    head = struct.pack(">BBBB", 0, 0, type_code, array.ndim) if magic is None else struct.pack(">I", magic)
    head += b"".join(struct.pack(">I", s) for s in array.shape)
    raw = head + array.astype(dtype).tobytes()
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(raw)
    return path


def write_mnist(folder, rng, n_train=7, n_test=4, compress=False, size=28):
    os.makedirs(folder, exist_ok=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        ext = ".gz" if compress else ""
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte{ext}"), images, compress=compress)
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte{ext}"), labels, compress=compress)
        out[prefix] = (images, labels)
    return out


@pytest.mark.parametrize(
    "type_code, dtype",
    [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32), (0x0D, np.float32), (0x0E, np.float64)],
)
def test_read_idx_equals_torchvision(tmp_path, rng, type_code, dtype):
    array = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    path = write_idx(str(tmp_path / "a.idx"), array, type_code)
    ours = read_idx(path)
    ref = read_sn3_pascalvincent_tensor(path, strict=False).numpy()
    assert ours.dtype == ref.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(ours, ref)
    np.testing.assert_array_equal(ours, array)


def test_read_idx_gzip_and_empty(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(write_idx(str(tmp_path / "a.gz"), array, compress=True)), array)
    empty = read_idx(write_idx(str(tmp_path / "e"), np.zeros((0, 28, 28), np.uint8)))
    assert empty.shape == (0, 28, 28)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("cls", [MNIST, FashionMNIST])
def test_mnist_reads_what_torchvision_reads(tmp_path, rng, compress, cls):
    written = write_mnist(str(tmp_path / cls.__name__ / "raw"), rng, compress=compress)
    for train, prefix in ((True, "train"), (False, "t10k")):
        ds = cls(str(tmp_path), train=train)
        images, labels = written[prefix]
        if not compress:  # torchvision's readers take plain files
            raw = str(tmp_path / cls.__name__ / "raw")
            np.testing.assert_array_equal(ds.data, read_image_file(f"{raw}/{prefix}-images-idx3-ubyte").numpy())
            np.testing.assert_array_equal(ds.targets, read_label_file(f"{raw}/{prefix}-labels-idx1-ubyte").numpy())
        np.testing.assert_array_equal(ds.data, images)
        np.testing.assert_array_equal(ds.targets, labels.astype(np.int64))
        assert len(ds) == len(labels)
        image, label = ds[2]
        assert image.dtype == np.float32 and image.shape == (1, 28, 28)
        np.testing.assert_allclose(image[0], images[2] / 255.0, rtol=1e-6)
        assert isinstance(label, int) and label == labels[2]
        fast = list(DataLoader(ds, batch_size=3))
        slow = list(DataLoader(ds, batch_size=3, collate_fn=lambda b: default_collate(b)))
        for (a, b), (c, d) in zip(fast, slow, strict=True):
            np.testing.assert_array_equal(a.data, c.data)
            np.testing.assert_array_equal(b.data, d.data)
    assert len(cls.classes) == 10


def test_mnist_finds_files_in_root_and_with_dot_names(tmp_path, rng):
    written = write_mnist(str(tmp_path), rng)
    np.testing.assert_array_equal(MNIST(str(tmp_path)).data, written["train"][0])
    os.rename(tmp_path / "t10k-images-idx3-ubyte", tmp_path / "t10k-images.idx3-ubyte")
    np.testing.assert_array_equal(MNIST(tmp_path, train=False).data, written["t10k"][0])


def test_mnist_errors(tmp_path, rng):
    with pytest.raises(FileNotFoundError, match="MNIST: cannot find train-images-idx3-ubyte"):
        MNIST(str(tmp_path))
    folder = str(tmp_path)
    write_mnist(folder, rng)
    img = os.path.join(folder, "train-images-idx3-ubyte")
    lab = os.path.join(folder, "train-labels-idx1-ubyte")
    # labels file where images belong: wrong magic, named with what was expected
    os.replace(img, img + ".bak")
    with open(lab, "rb") as src, open(img, "wb") as dst:
        dst.write(src.read())
    with pytest.raises(
        ValueError,
        match=r"MNIST: .*train-images-idx3-ubyte has magic number 0x00000801; "
        r"expected 0x00000803 \(IDX file of unsigned bytes with 3 dimension",
    ):
        MNIST(folder)
    # truncated image file
    with open(img + ".bak", "rb") as f:
        raw = f.read()
    with open(img, "wb") as f:
        f.write(raw[:-10])
    with pytest.raises(ValueError, match=r"MNIST: .*train-images-idx3-ubyte is truncated: \d+ bytes, expected \d+"):
        MNIST(folder)
    with open(img, "wb") as f:
        f.write(raw[:6])
    with pytest.raises(ValueError, match="truncated"):
        MNIST(folder)
    with open(img, "wb") as f:
        f.write(raw + b"xx")
    with pytest.raises(ValueError, match="longer than its header says"):
        MNIST(folder)
    # damaged gzip
    os.remove(img)
    with open(img + ".gz", "wb") as f:
        f.write(gzip.compress(raw)[:-20])
    with pytest.raises(ValueError, match=r"MNIST: .*train-images-idx3-ubyte.gz is a damaged or truncated gzip"):
        MNIST(folder)
    os.remove(img + ".gz")
    os.replace(img + ".bak", img)
    # counts disagree
    write_idx(lab, np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="holds 7 images but .* holds 3 labels"):
        MNIST(folder)
    write_idx(lab, np.full(7, 12, np.uint8))
    with pytest.raises(ValueError, match="label 12; expected labels in 0..9"):
        MNIST(folder)
    with pytest.raises(ValueError, match="MNIST: download=True is not supported"):
        MNIST(folder, download=True)


def test_read_idx_rejects_non_idx(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(ValueError, match=r"read_idx: .*x is not an IDX file: magic number 0x504B0304"):
        read_idx(str(path))
    path.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="truncated: 2 bytes"):
        read_idx(str(path))
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x02")
    with pytest.raises(ValueError, match="expected a header of 16 bytes"):
        read_idx(str(path))


# ------------------------------------------------------------------------- gzip bombs and absurd headers
def gzip_bomb(prefix, zeros_mib, crc=0):
    """Bytes of a gzip file that inflates to ``prefix`` followed by ``zeros_mib`` MiB of zeros, at about
    1000:1.  Built without compressing the zeros: after a full flush the deflate block of 1 MiB of zeros
    does not depend on what came before, so it is compressed once and repeated."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(b"\0" * (1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    size = len(prefix) + (zeros_mib << 20)
    return (
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
        + body
        + block * zeros_mib
        + c.flush()
        + struct.pack("<II", crc, size & 0xFFFFFFFF)
    )


def _peak_bytes(fn):
    """Peak traced allocation while ``fn()`` runs (it must raise ValueError); returns (peak, error)."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as err:
            fn()
        return tracemalloc.get_traced_memory()[1], str(err.value)
    finally:
        tracemalloc.stop()


def idx_header(shape, type_code=0x08):
    return struct.pack(">BBBB", 0, 0, type_code, len(shape)) + b"".join(struct.pack(">I", d) for d in shape)


def test_gzip_bomb_is_not_inflated_past_the_declared_size(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip_bomb(idx_header((10, 28, 28)) + b"\1" * 7840, zeros_mib=256))
    assert path.stat().st_size < 400_000
    peak, msg = _peak_bytes(lambda: read_idx(str(path)))
    assert "is longer than its header says: more than 7856 bytes, expected 7856" in msg
    assert peak < 8 << 20  # the old reader inflated all 256 MiB first


def test_absurd_idx_headers_are_refused_before_reading(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip_bomb(idx_header((1 << 31, 28, 28)), zeros_mib=64))
    peak, msg = _peak_bytes(lambda: read_idx(str(path), who="MNIST"))
    assert re.search(
        r"MNIST: .*x.gz declares shape \(2147483648, 28, 28\) of 1-byte values, "
        r"1,683,627,180,032 bytes; at most max_bytes=2,147,483,648 are accepted",
        msg,
    )
    assert peak < 1 << 20
    # 255 dimensions of 2**32 - 1: the byte count is computed exactly (no int64 overflow)
    path.write_bytes(gzip.compress(idx_header((0xFFFFFFFF,) * 255, type_code=0x0E)))
    assert "declares shape (4294967295, 4294967295," in _peak_bytes(lambda: read_idx(str(path)))[1]
    # within max_bytes, but more than any deflate stream of this size can hold
    path.write_bytes(gzip.compress(idx_header((60000, 28, 28)) + b"\0" * 1000))
    peak, msg = _peak_bytes(lambda: read_idx(str(path)))
    assert re.search(
        r"x.gz is truncated: a gzip file of \d+ bytes cannot hold the 47040016 bytes its header "
        r"declares",
        msg,
    )
    assert peak < 1 << 20
    # a plain file is checked against its size before its values are read
    plain = tmp_path / "plain"
    plain.write_bytes(idx_header((3, 4)) + b"\0" * 13)
    assert "longer than its header says: 25 bytes, expected 24" in _peak_bytes(lambda: read_idx(str(plain)))[1]


def test_max_bytes_bounds_and_allows(tmp_path):
    array = np.arange(600, dtype=np.uint8).reshape(20, 30) % 7
    path = write_idx(str(tmp_path / "a.gz"), array, compress=True)
    with pytest.raises(ValueError, match=r"600 bytes; at most max_bytes=599 are accepted"):
        read_idx(path, max_bytes=599)
    np.testing.assert_array_equal(read_idx(path, max_bytes=600), array)
    # a genuine stream that inflates to exactly what its header declares, at ~1000:1, is read
    bomb = tmp_path / "zeros.gz"
    zeros = 4 << 20
    bomb.write_bytes(
        gzip_bomb(idx_header((zeros,)), zeros_mib=4, crc=zlib.crc32(b"\0" * zeros, zlib.crc32(idx_header((zeros,)))))
    )
    out = read_idx(str(bomb))
    assert out.shape == (zeros,) and not out.any()


def write_cifar_batch(path, images_hwc, labels):
    """Records written one by one from the format description: label byte, then R, G, B planes."""
    with open(path, "wb") as f:
        for img, lab in zip(images_hwc, labels):
            f.write(struct.pack("B", int(lab)))
            for c in range(3):
                f.write(bytes(img[:, :, c].ravel().tolist()))


def write_cifar(folder, rng, per_batch=3):
    os.makedirs(folder, exist_ok=True)
    out = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        images = rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch)
        write_cifar_batch(os.path.join(folder, name), images, labels)
        out[name] = (images, labels)
    return out


def test_cifar10_reads_the_binary_layout(tmp_path, rng):
    written = write_cifar(str(tmp_path / "cifar-10-batches-bin"), rng)
    train = CIFAR10(str(tmp_path), train=True)
    test = CIFAR10(tmp_path / "cifar-10-batches-bin", train=False)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)]
    np.testing.assert_array_equal(train.data, np.concatenate([written[n][0] for n in names]))
    np.testing.assert_array_equal(train.targets, np.concatenate([written[n][1] for n in names]))
    np.testing.assert_array_equal(test.data, written["test_batch.bin"][0])
    assert train.data.dtype == np.uint8 and train.data.shape == (15, 32, 32, 3) and len(test) == 3
    image, label = train[4]
    assert image.shape == (3, 32, 32) and image.dtype == np.float32 and isinstance(label, int)
    ref = torch.from_numpy(train.data[4]).permute(2, 0, 1).to(torch.float32) / 255  # ToTensor's convention
    np.testing.assert_array_equal(image, ref.numpy())
    fast = list(DataLoader(train, batch_size=4))
    slow = list(DataLoader(train, batch_size=4, collate_fn=lambda b: default_collate(b)))
    for (a, b), (c, d) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a.data, c.data)
        np.testing.assert_array_equal(b.data, d.data)


def test_cifar10_errors(tmp_path, rng):
    folder = str(tmp_path)
    with pytest.raises(FileNotFoundError, match="CIFAR10: cannot find data_batch_1.bin"):
        CIFAR10(folder)
    write_cifar(folder, rng)
    path = os.path.join(folder, "data_batch_3.bin")
    raw = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(raw[:-5])
    with pytest.raises(
        ValueError,
        match=r"CIFAR10: .*data_batch_3.bin has 9214 bytes; expected a positive "
        r"multiple of 3073.*truncated",
    ):
        CIFAR10(folder)
    with open(path, "wb") as f:
        f.write(b"")
    with pytest.raises(ValueError, match="has 0 bytes"):
        CIFAR10(folder)
    with open(path, "wb") as f:
        f.write(raw[:3073] + bytes([200]) + raw[3074:])
    with pytest.raises(ValueError, match="record 1 has label byte 200; expected 0..9"):
        CIFAR10(folder)
    with pytest.raises(ValueError, match="read_cifar10_batch"):
        read_cifar10_batch(path)
    with pytest.raises(ValueError, match="CIFAR10: download=True is not supported"):
        CIFAR10(folder, download=True)


def test_cifar10_size_is_checked_before_reading(tmp_path):
    path = tmp_path / "data_batch_1.bin"
    with open(path, "wb") as f:
        f.truncate(3073 * 40_000 + 1)  # sparse: 123 MB on paper, nothing on disk
    peak, msg = _peak_bytes(lambda: read_cifar10_batch(str(path)))
    assert "has 122920001 bytes; expected a positive multiple of 3073" in msg
    assert peak < 1 << 20
