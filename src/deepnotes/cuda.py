"""``deepnotes.cuda``: the answers torch.cuda gives on a machine without a GPU (deepnotes is CPU-only)."""


def is_available():
    """False: deepnotes computes with NumPy on the CPU."""
    return False


def device_count():
    """0: no CUDA devices are used by deepnotes."""
    return 0
