"""Safe weight and checkpoint files.

Files are safetensors: raw arrays plus a JSON header, so loading can never execute code (unlike
pickle).  Writes are atomic: the bytes go to a temporary file in the same folder, are flushed to disk,
and only then replace the target, so an interrupted write leaves the previous file intact.
"""
import json
import os
import tempfile
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


def _array(value):
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        return value.detach().cpu().numpy()
    return None


def atomic_write_bytes(path, payload):
    """Write ``payload`` to ``path`` through a temporary file and an atomic rename."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_all(f, payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        _discard(tmp)
        if e.filename is None:   # say which file could not be written (a full disk names none)
            e.filename = path
        raise
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp):
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass


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
        arrays = st.load(data)
        header_len = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + header_len])
    except Exception as e:  # safetensors raises its own error types
        raise FileFormatError(f"{what}: {path!r} is not a valid safetensors file ({type(e).__name__}: {e})") \
            from None
    return arrays, header.get("__metadata__") or {}


# ------------------------------------------------------------------------------------ weights
def save_weights(state_dict, path, metadata=None):
    """Save a flat ``{name: array}`` mapping (a module's ``state_dict()``) as safetensors, atomically."""
    if hasattr(state_dict, "state_dict") and callable(state_dict.state_dict):
        state_dict = state_dict.state_dict()
    tensors = {}
    for k, v in state_dict.items():
        arr = _array(v)
        if arr is None:
            raise TypeError(f"save_weights: value for {k!r} is a {type(v).__name__}, expected an array")
        tensors[k] = np.ascontiguousarray(arr)
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    meta[_ORDER_KEY] = json.dumps(list(tensors))  # safetensors reorders keys; keep the module's order
    atomic_write_bytes(path, _safetensors().save(tensors, metadata=meta))


def load_weights(path):
    """Load a safetensors file into an ``OrderedDict`` of NumPy arrays (no code is ever executed)."""
    arrays, meta = _read(path, "load_weights")
    order = json.loads(meta[_ORDER_KEY]) if _ORDER_KEY in meta else []
    if sorted(order) != sorted(arrays):
        order = list(arrays)
    return OrderedDict((k, arrays[k]) for k in order)


def load_torch_state_dict(path):
    """A torch checkpoint's state_dict as NumPy arrays, ready for ``Module.load_state_dict``.

    ``.safetensors`` files load without torch.  ``.pt``/``.pth``/``.bin`` files need torch and are read
    with ``torch.load(weights_only=True)``, which refuses pickled code.  A checkpoint that wraps its
    weights (``{"state_dict": ...}`` or ``{"model": ...}``) is unwrapped.
    """
    path = os.fspath(path)
    if path.endswith(".safetensors"):
        return load_weights(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_torch_state_dict: no file at {path!r}")
    try:
        import torch
    except ImportError:
        raise ImportError(f"load_torch_state_dict: reading {path!r} needs torch; convert it to .safetensors "
                          "to load it without torch") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"load_torch_state_dict: cannot read {path!r} as a weights-only torch file "
                         f"({type(e).__name__}: {e})") from None
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise ValueError(f"load_torch_state_dict: {path!r} holds a {type(obj).__name__}, expected a state_dict")
    out = OrderedDict()
    for k, v in obj.items():
        arr = _array(v)
        if arr is None:
            raise ValueError(f"load_torch_state_dict: entry {k!r} of {path!r} is a {type(v).__name__}, "
                             "expected a tensor")
        out[k] = arr
    return out


# ------------------------------------------------------------------------------------ checkpoints
def _encode(obj, arrays, path):
    arr = _array(obj)
    if arr is not None:
        key = f"t{len(arrays)}"
        arrays[key] = np.ascontiguousarray(arr)
        return {"__array__": key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {"__dict__": [[k, _encode(v, arrays, f"{path}.{k}")] for k, v in obj.items()]}
        return {"__dict__": [[_encode(k, arrays, path), _encode(v, arrays, f"{path}.{k}")]
                             for k, v in obj.items()]}
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
    raise TypeError(f"save_checkpoint: cannot store {type(obj).__name__} at {path or 'top level'}; "
                    "expected arrays, numbers, strings, lists, tuples or dicts")


def _decode(obj, arrays):
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if isinstance(obj, dict):
        if "__array__" in obj:
            return arrays[obj["__array__"]]
        if "__tuple__" in obj:
            return tuple(_decode(v, arrays) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return OrderedDict((_decode(k, arrays), _decode(v, arrays)) for k, v in obj["__dict__"])
    return obj


def save_checkpoint(state, path):
    """Save a nested checkpoint (dicts, lists, numbers, strings and arrays) atomically as safetensors."""
    arrays = {}
    tree = _encode(state, arrays, "")
    meta = {_META_KEY: json.dumps({"format": _FORMAT, "tree": tree})}
    atomic_write_bytes(path, _safetensors().save(arrays, metadata=meta))


def load_checkpoint(path):
    """Load what :func:`save_checkpoint` wrote; a missing or corrupt file gives a clear error."""
    arrays, meta = _read(path, "load_checkpoint")
    try:
        info = json.loads(meta[_META_KEY])
        if info.get("format") != _FORMAT:
            raise ValueError(f"unknown format {info.get('format')!r}")
        return _decode(info["tree"], arrays)
    except (KeyError, ValueError, TypeError) as e:
        raise FileFormatError(f"load_checkpoint: {os.fspath(path)!r} is not a deepnotes checkpoint ({e})") from None
