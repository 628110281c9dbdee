"""Safe weight and checkpoint files.

Files are safetensors: raw arrays plus a JSON header, so loading can never execute code (unlike
pickle).  Writes are atomic: the bytes go to a temporary file in the same folder, are flushed to disk,
and only then replace the target, so an interrupted write leaves the previous file intact (see
:func:`atomic_write_bytes` for the clean-up of temporary files and the permissions of the result).
"""

import hashlib
import json
import os
import stat
import tempfile
import time
from collections import OrderedDict

import numpy as np

from .errors import FileFormatError
from .tensor import Tensor

_META_KEY = "deepnotes"
_FORMAT = "deepnotes-checkpoint-1"
_ORDER_KEY = "deepnotes.keys"


def _safetensors():
    try:
        from safetensors import numpy as st
    except ImportError as e:  # pragma: no cover - declared dependency
        raise ImportError("deepnotes.io needs the 'safetensors' package: pip install safetensors") from e
    return st


def _array(value, where="deepnotes.io", key=None):
    """``value`` as a NumPy array (deepnotes Tensor, ndarray or torch tensor), or ``None``."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        return _torch_to_numpy(value, where, key)
    return None


def _torch_to_numpy(t, where, key):
    """A dense CPU torch tensor as NumPy.  bfloat16 becomes float32: NumPy has no bfloat16, and every
    bfloat16 value is exactly a float32 (the same exponent, a mantissa cut to 7 bits), so nothing is
    lost; the weights then load into float32 layers.  Other dtypes NumPy lacks raise ``ValueError``."""
    import torch

    name = "a tensor" if key is None else f"entry {key!r}"
    if t.layout != torch.strided:
        raise ValueError(
            f"{where}: {name} is a {t.layout} tensor; expected a dense (strided) tensor "
            "(call .to_dense() before saving)"
        )
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        t = t.to(torch.float32)
    try:
        return t.numpy()
    except (TypeError, RuntimeError):
        raise ValueError(
            f"{where}: {name} has dtype {t.dtype}, which NumPy cannot hold; expected a "
            "float (bfloat16 is read as float32), integer, bool or complex64/128 tensor"
        ) from None


# ------------------------------------------------------------------------------------ JSON
JSON_MAX_DEPTH = 100


def _too_deep(obj, limit):
    """Whether lists/dicts nest more than ``limit`` levels (an explicit stack: no recursion)."""
    stack = [(obj, 1)] if isinstance(obj, (list, dict)) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (list, dict)):
                stack.append((child, depth + 1))
    return False


def parse_json(text, where, source, max_depth=JSON_MAX_DEPTH):
    """Parse JSON ``text`` (str or bytes); every way it can be unreadable becomes one ``ValueError``.

    Malformed text, bad UTF-8 and nesting deeper than ``max_depth`` levels (which would otherwise end in
    a ``RecursionError`` in the parser or in whatever walks the result later) are reported as
    ``"{where}: {source} is not a valid JSON file (...)"``.  Real COCO files and deepnotes checkpoint
    headers nest fewer than 20 levels.
    """
    try:
        obj = json.loads(text)
    except RecursionError:
        raise FileFormatError(
            f"{where}: {source} is not a valid JSON file (lists/objects nested more than {max_depth} levels deep)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FileFormatError(f"{where}: {source} is not a valid JSON file ({err})") from None
    if _too_deep(obj, max_depth):
        raise FileFormatError(
            f"{where}: {source} is not a valid JSON file (lists/objects nested more than {max_depth} levels deep)"
        )
    return obj


def read_json(path, where, max_depth=JSON_MAX_DEPTH):
    """Read and parse the JSON file at ``path`` with :func:`parse_json` (errors name the file)."""
    with open(path, "rb") as f:
        data = f.read()
    return parse_json(data, where, repr(os.fspath(path)), max_depth)


#: a temporary ``.part`` file of the same target untouched for this long before a write starts is
#: taken as left by a killed writer and removed once that write succeeds (a live writer keeps
#: touching its file).
STALE_PART_SECONDS = 60.0

_PART_SUFFIX = ".part"
_RANDOM_LEN = 8  # tempfile's random names: 8 of [a-z0-9_]
_RANDOM_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _part_prefix(path):
    """``.<name>.tmp-``: the temporary files of a target are recognisable from its name (long names
    are shortened with a hash so that the temporary name stays within the file-system's limit)."""
    name = os.path.basename(path)
    if len(name) > 120:
        name = name[:100] + "~" + hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f".{name}.tmp-"


def _is_part_of(entry_name, prefix):
    middle = entry_name[len(prefix) : -len(_PART_SUFFIX)]
    return (
        entry_name.startswith(prefix)
        and entry_name.endswith(_PART_SUFFIX)
        and len(middle) == _RANDOM_LEN
        and set(middle) <= _RANDOM_CHARS
    )


def _current_umask():
    """The process umask, read without changing it where /proc allows (``os.umask`` is set-and-get,
    which would briefly change it for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _new_file_mode(path):
    """The mode ``open(path, "wb")`` would leave: an existing file keeps its permissions, a new one
    gets ``0o666`` less the umask (``mkstemp`` alone would give ``0o600`` whatever the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_current_umask()


def _remove_stale_parts(folder, prefix, started, keep):
    """Remove the ``.part`` files of this target that were left by killed writers: untouched for
    :data:`STALE_PART_SECONDS` before ``started``; ``keep`` (ours) is never touched."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name == keep or not _is_part_of(entry.name, prefix):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_mtime < started - STALE_PART_SECONDS:
                os.unlink(entry.path)
        except OSError:
            pass  # gone already, or not ours to remove


def _contiguous(arr):
    """``arr`` C-contiguous with its shape kept (np.ascontiguousarray turns a 0-d array into 1-d)."""
    return np.ascontiguousarray(arr).reshape(arr.shape)


def atomic_write_bytes(path, payload):
    """Write ``payload`` to ``path`` through a temporary file and an atomic rename.

    The temporary file ``.<name>.tmp-XXXXXXXX.part`` sits beside the target; it is removed on any
    exception (``KeyboardInterrupt`` included).  A process killed mid-write cannot clean up, so the
    next successful write of the same target removes that target's ``.part`` files untouched for
    :data:`STALE_PART_SECONDS` (those of another live writer keep changing and are left alone).
    The file gets the permissions ``open()`` would give it: those of the file it replaces, or
    ``0o666`` less the umask for a new file.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    prefix = _part_prefix(path)
    started = time.time()
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=_PART_SUFFIX, dir=folder)
    done = False
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), _new_file_mode(path))
            _write_all(f, payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        done = True
    except OSError as e:
        if e.filename is None:  # say which file could not be written (a full disk names none)
            e.filename = path
        raise
    finally:
        if not done:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
    _remove_stale_parts(folder, prefix, started, os.path.basename(tmp))


def _write_all(f, payload):
    f.write(payload)


def _read(path, what):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what}: no file at {path!r}")
    with open(path, "rb") as f:
        data = f.read()
    st = _safetensors()
    try:
        views = st.deserialize(data)  # checks the header and the offsets; raw bytes per tensor
        header_len = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + header_len])
    except Exception as e:  # safetensors raises its own error types
        raise FileFormatError(f"{what}: {path!r} is not a valid safetensors file ({type(e).__name__}: {e})") from None
    arrays = {k: _from_safetensors_view(k, v, f"{what}: {path!r}") for k, v in views}
    return arrays, header.get("__metadata__") or {}


# safetensors dtype names -> little-endian NumPy dtypes; "BF16" is widened to float32 (see below)
_SAFETENSORS_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "U64": "<u8",
    "I32": "<i4",
    "U32": "<u4",
    "I16": "<i2",
    "U16": "<u2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
    "C64": "<c8",
}


def _from_safetensors_view(key, view, where):
    """One tensor of a safetensors file as NumPy.  bfloat16 is the upper half of a float32, so its
    bits shifted left by 16 are that float32 exactly: BF16 tensors load as float32 without loss."""
    dtype, shape, raw = view["dtype"], view["shape"], view["data"]
    if dtype == "BF16":
        bits = np.frombuffer(raw, dtype="<u2").astype("<u4") << 16
        return bits.view("<f4").astype(np.float32, copy=False).reshape(shape)
    if dtype not in _SAFETENSORS_DTYPES:
        raise ValueError(
            f"{where}: entry {key!r} has dtype {dtype}, which NumPy cannot hold; expected one "
            f"of {sorted(_SAFETENSORS_DTYPES)} or BF16 (read as float32)"
        )
    arr = np.frombuffer(raw, dtype=_SAFETENSORS_DTYPES[dtype]).reshape(shape)
    return arr.astype(arr.dtype.newbyteorder("="), copy=False)


# ------------------------------------------------------------------------------------ weights
def save_weights(state_dict, path, metadata=None):
    """Save a flat ``{name: array}`` mapping (a module's ``state_dict()``) as safetensors, atomically."""
    if hasattr(state_dict, "state_dict") and callable(state_dict.state_dict):
        state_dict = state_dict.state_dict()
    tensors = {}
    for k, v in state_dict.items():
        arr = _array(v, "save_weights", k)
        if arr is None:
            raise TypeError(f"save_weights: value for {k!r} is a {type(v).__name__}, expected an array")
        tensors[k] = _contiguous(arr)
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    meta[_ORDER_KEY] = json.dumps(list(tensors))  # safetensors reorders keys; keep the module's order
    atomic_write_bytes(path, _safetensors().save(tensors, metadata=meta))


def load_weights(path):
    """Load a safetensors file into an ``OrderedDict`` of NumPy arrays (no code is ever executed).

    BF16 tensors load as float32 (exactly; NumPy has no bfloat16); a dtype NumPy cannot hold (float8
    ...) raises ``ValueError`` naming the entry and its dtype."""
    arrays, meta = _read(path, "load_weights")
    order = []
    if _ORDER_KEY in meta:
        order = parse_json(meta[_ORDER_KEY], "load_weights", f"the key order stored in {os.fspath(path)!r}")
    if not isinstance(order, list) or not all(isinstance(k, str) for k in order) or sorted(order) != sorted(arrays):
        order = list(arrays)
    return OrderedDict((k, arrays[k]) for k in order)


def load_torch_state_dict(path):
    """A torch checkpoint's state_dict as NumPy arrays, ready for ``Module.load_state_dict``.

    ``.safetensors`` files load without torch.  ``.pt``/``.pth``/``.bin`` files need torch and are read
    with ``torch.load(weights_only=True)``, which refuses pickled code.  A checkpoint that wraps its
    weights (``{"state_dict": ...}`` or ``{"model": ...}``) is unwrapped.

    NumPy has no bfloat16: bfloat16 tensors (in ``.pt`` and ``.safetensors`` files alike) come back as
    float32 arrays holding exactly the same values (widening bfloat16 to float32 is lossless), ready for
    float32 layers.  A tensor of a dtype NumPy
    cannot hold (float8, complex32, quantized) or a sparse tensor raises ``ValueError`` naming its key
    and dtype.
    """
    path = os.fspath(path)
    if path.endswith(".safetensors"):
        return load_weights(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_torch_state_dict: no file at {path!r}")
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"load_torch_state_dict: reading {path!r} needs torch; convert it to .safetensors to load it without torch"
        ) from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(
            f"load_torch_state_dict: cannot read {path!r} as a weights-only torch file ({type(e).__name__}: {e})"
        ) from None
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise ValueError(f"load_torch_state_dict: {path!r} holds a {type(obj).__name__}, expected a state_dict")
    out = OrderedDict()
    where = f"load_torch_state_dict: {path!r}"
    for k, v in obj.items():
        arr = _array(v, where, k)
        if arr is None:
            raise ValueError(
                f"load_torch_state_dict: entry {k!r} of {path!r} is a {type(v).__name__}, expected a tensor"
            )
        out[k] = arr
    return out


# ------------------------------------------------------------------------------------ checkpoints
def _encode(obj, arrays, path):
    arr = _array(obj, "save_checkpoint", path or "top level")
    if arr is not None:
        key = f"t{len(arrays)}"
        arrays[key] = _contiguous(arr)
        if isinstance(obj, Tensor):  # a deepnotes Tensor comes back as one from load()
            return {"__array__": key, "tensor": True, "requires_grad": bool(obj.requires_grad)}
        return {"__array__": key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {"__dict__": [[k, _encode(v, arrays, f"{path}.{k}")] for k, v in obj.items()]}
        return {"__dict__": [[_encode(k, arrays, path), _encode(v, arrays, f"{path}.{k}")] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays, f"{path}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, arrays, f"{path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(
        f"cannot store {type(obj).__name__} at {path or 'top level'}; "
        "expected arrays, numbers, strings, lists, tuples or dicts"
    )


def _decode(obj, arrays, tensors=False):
    """The object :func:`_encode` described; with ``tensors`` the leaves saved from Tensors are Tensors
    again (else every leaf is an array)."""
    if isinstance(obj, list):
        return [_decode(v, arrays, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__array__" in obj:
            arr = arrays[obj["__array__"]]
            if tensors and obj.get("tensor"):
                return Tensor(arr, requires_grad=bool(obj.get("requires_grad")))
            return arr
        if "__tuple__" in obj:
            return tuple(_decode(v, arrays, tensors) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return OrderedDict((_decode(k, arrays, tensors), _decode(v, arrays, tensors)) for k, v in obj["__dict__"])
    return obj


def save_checkpoint(state, path, _name="save_checkpoint"):
    """Save a nested checkpoint (dicts, lists, numbers, strings and arrays) atomically as safetensors."""
    arrays = {}
    try:
        tree = _encode(state, arrays, "")
    except TypeError as e:
        raise TypeError(f"{_name}: {e}") from None
    meta = {_META_KEY: json.dumps({"format": _FORMAT, "tree": tree})}
    atomic_write_bytes(path, _safetensors().save(arrays, metadata=meta))


def load_checkpoint(path, _tensors=False, _name="load_checkpoint"):
    """Load what :func:`save_checkpoint` wrote; a missing or corrupt file gives a clear error."""
    arrays, meta = _read(path, _name)
    if _META_KEY not in meta:
        raise FileFormatError(f"{_name}: {os.fspath(path)!r} is not a deepnotes checkpoint (no {_META_KEY!r} metadata)")
    info = parse_json(meta[_META_KEY], _name, f"the checkpoint header of {os.fspath(path)!r}")
    try:
        if info.get("format") != _FORMAT:
            raise ValueError(f"unknown format {info.get('format')!r}")
        return _decode(info["tree"], arrays, _tensors)
    except (KeyError, ValueError, TypeError) as e:
        raise FileFormatError(f"{_name}: {os.fspath(path)!r} is not a deepnotes checkpoint ({e})") from None


# ------------------------------------------------------------------------------------ torch-style save / load
_TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".tar")


def save(obj, f):
    """``torch.save`` for deepnotes: nested dicts, lists and tuples of Tensors, arrays, numbers,
    strings and None (a model's or an optimizer's ``state_dict()``, a training checkpoint) written to
    the path ``f`` atomically as safetensors.  The arrays form the payload; the nesting and the plain
    values are JSON in its metadata.  Nothing is pickled, so loading can never run code."""
    if not isinstance(f, (str, bytes, os.PathLike)):
        raise TypeError(
            f"save: expected a file path, got {type(f).__name__} (file objects are not supported: pass the path)"
        )
    save_checkpoint(obj, f, _name="save")


def load(f, map_location=None, weights_only=True, **kwargs):
    """Read what :func:`save` wrote: the same nesting, with Tensors where Tensors were saved.

    ``map_location`` (CPU only) and ``weights_only`` are accepted for torch compatibility; loading is
    always weights-only, as safetensors cannot hold code.  A torch ``.pt``/``.pth`` file is refused
    with a pointer to :func:`load_torch_state_dict`."""
    if map_location is not None and not callable(map_location) and not isinstance(map_location, dict):
        from .devices import check_device

        check_device(map_location, "load")
    path = os.fspath(f)
    if os.path.exists(path):
        with open(path, "rb") as fh:
            head = fh.read(8)
        if path.lower().endswith(_TORCH_SUFFIXES) or head[:2] == b"PK" or head[:1] == b"\x80":
            raise FileFormatError(
                f"load: {path!r} looks like a torch (pickle/zip) file; deepnotes.load reads "
                "only files written by deepnotes.save.  Use "
                "deepnotes.io.load_torch_state_dict(path) to read a torch state_dict"
            )
    return load_checkpoint(path, _tensors=True, _name="load")
