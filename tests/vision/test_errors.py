"""Bad input: every error names the function, what it got and what it expects."""

import numpy as np
import pytest

from deepnotes import vision

IMG = np.zeros((8, 8), np.uint8)


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [
        (lambda: vision.box_blur(IMG.astype(np.int32)), TypeError, ["box_blur", "int32", "uint8, float32, float64"]),
        (lambda: vision.gaussian_blur([[1, 2]]), TypeError, ["gaussian_blur", "list", "NumPy array"]),
        (
            lambda: vision.median_blur(np.zeros((2, 2, 2, 2), np.uint8)),
            ValueError,
            ["median_blur", "(2, 2, 2, 2)", "(H, W)"],
        ),
        (lambda: vision.median_blur(np.zeros((0, 4), np.uint8)), ValueError, ["median_blur", "non-empty"]),
        (lambda: vision.box_blur(IMG, 4), ValueError, ["box_blur", "odd positive", "4"]),
        (lambda: vision.median_blur(IMG, 0), ValueError, ["median_blur", "odd positive", "0"]),
        (lambda: vision.median_blur(IMG, -3), ValueError, ["median_blur", "-3"]),
        (lambda: vision.box_blur(IMG, 3.0), TypeError, ["box_blur", "3.0"]),
        (lambda: vision.gaussian_blur(IMG, 5, 0.0), ValueError, ["gaussian_blur", "sigma", "> 0"]),
        (lambda: vision.gaussian_blur(np.full((3, 3), np.nan)), ValueError, ["gaussian_blur", "NaN"]),
        (lambda: vision.sobel(IMG, 0, 0), ValueError, ["sobel", "dx=0", "dy=0"]),
        (lambda: vision.sobel(IMG, 1, 0, 9), ValueError, ["sobel", "3, 5 or 7", "9"]),
        (lambda: vision.equalize_local(IMG.astype(np.float64)), TypeError, ["equalize_local", "float64", "uint8"]),
        (lambda: vision.equalize_local(IMG, 0), ValueError, ["equalize_local", "radius", "0"]),
        (
            lambda: vision.match_histograms_local(IMG, np.zeros((3, 3, 3), np.uint8)),
            ValueError,
            ["match_histograms_local", "(8, 8)", "(3, 3, 3)"],
        ),
        (lambda: vision.match_histograms_local(IMG, IMG.astype(float)), TypeError, ["match_histograms_local", "uint8"]),
        (lambda: vision.equalize_hist(IMG, 1), ValueError, ["equalize_hist", "nbins", "1"]),
        (
            lambda: vision.match_histograms(IMG, np.zeros((4, 4, 3), np.uint8)),
            ValueError,
            ["match_histograms", "(8, 8)", "(4, 4, 3)"],
        ),
        (
            lambda: vision.local_statistics_enhance(IMG, k1=0.5, k2=0.1),
            ValueError,
            ["local_statistics_enhance", "k1 <= k2"],
        ),
        (
            lambda: vision.local_statistics_enhance(IMG, s=0),
            ValueError,
            ["local_statistics_enhance", "half-width", "0"],
        ),
        (lambda: vision.local_statistics_enhance(IMG, E=-1), ValueError, ["local_statistics_enhance", "E", "> 0"]),
        (lambda: vision.gaussian_lowpass(IMG, 0), ValueError, ["transfer_function", "d0", "> 0"]),
        (lambda: vision.butterworth_lowpass(IMG, 5, 0), ValueError, ["transfer_function", "order", "0"]),
        (
            lambda: vision.transfer_function("box", (4, 4), 3),
            ValueError,
            ["transfer_function", "ideal, butterworth, gaussian", "'box'"],
        ),
        (lambda: vision.frequency_filter(IMG, np.ones((4, 4))), ValueError, ["frequency_filter", "(8, 8)", "(4, 4)"]),
        (lambda: vision.frequency_filter(IMG), ValueError, ["frequency_filter", "kind and d0"]),
        (lambda: vision.correlate2d(IMG, np.ones((2, 3))), ValueError, ["correlate2d", "odd sides", "(2, 3)"]),
    ],
)
def test_clear_errors(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    for w in words:
        assert w in msg, (w, msg)
