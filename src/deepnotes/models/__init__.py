"""Model architectures, constructors named as in torchvision."""
from .lenet import LeNet5

_REGISTRY = {"lenet5": LeNet5}


def list_models():
    return sorted(_REGISTRY)


def get_model(name, **kwargs):
    """Build a registered model by name; an unknown name lists the nearest known ones."""
    key = name.lower()
    if key not in _REGISTRY:
        import difflib
        near = difflib.get_close_matches(key, list(_REGISTRY), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise ValueError(f"get_model: unknown model {name!r}{hint} (known: {', '.join(list_models())})")
    return _REGISTRY[key](**kwargs)


__all__ = ["LeNet5", "get_model", "list_models"]
