"""deepnotes.vision: classic image processing on NumPy arrays (seed 002's image-processing chapter).

Images are NumPy arrays, grey (H, W) or colour (H, W, C), of dtype uint8, float32 or float64; colour images are
processed channel by channel.  Smoothing, sharpening and histogram operations return the input's dtype
(uint8 results rounded half to even and saturated); derivatives (``laplacian``, ``sobel``) and frequency-domain
filters return float64.  Each module's docstring states its border mode and the reference it equals.

Example::

    import numpy as np
    from deepnotes import vision

    img = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)
    smooth = vision.gaussian_blur(img, ksize=5, sigma=1.0)     # = cv2.GaussianBlur (within 1 grey level)
    edges = vision.sobel(img, dx=1, dy=0)                      # = cv2.Sobel(img, cv2.CV_64F, 1, 0)
    eq = vision.equalize_hist(img)                             # = cv2.equalizeHist
    low = vision.gaussian_lowpass(img, d0=10)                  # frequency domain, float64
    high = vision.gaussian_highpass(img, d0=10)                # low + high == img
    brighter = vision.local_statistics_enhance(img, E=4.0, k0=0.4, k1=0.02, k2=0.4, s=1)
    fig = vision.compare_figure(img, eq, "eq.png", titles=("input", "equalised"))  # needs matplotlib
    c = vision.dct2(img, norm="ortho")                         # = scipy.fft.dctn(img, norm="ortho")
    w = vision.walsh_hadamard(img, order="sequency")           # rows of scipy.linalg.hadamard by sign changes
    coeffs = vision.wavedec2(img, "db4", mode="periodization", level=3)   # = pywt.wavedec2
    back = vision.waverec2(coeffs, "db4", mode="periodization")           # == img (float64)

The transforms (``spectral``, ``wavelets``) take one 2-D array (a grey image or one channel) and return float64.
"""

from .enhance import local_mean_std, local_statistics_enhance, local_statistics_mask
from .figure import compare_figure, image_histogram
from .filters import (
    box_blur,
    correlate2d,
    gaussian_blur,
    gaussian_kernel,
    laplacian,
    median_blur,
    sharpen_laplacian,
    sobel,
    unsharp_mask,
)
from .frequency import (
    butterworth_highpass,
    butterworth_lowpass,
    distance_grid,
    frequency_filter,
    gaussian_highpass,
    gaussian_lowpass,
    ideal_highpass,
    ideal_lowpass,
    transfer_function,
)
from .histogram import equalize_hist, equalize_local, match_histograms, match_histograms_local
from .spectral import (
    block_dct2,
    block_idct2,
    dct2,
    dct_matrix,
    dft2,
    idct2,
    idft2,
    inverse_walsh_hadamard,
    sequency_order,
    walsh_hadamard,
)
from .wavelets import (
    daubechies_filter,
    dwt2,
    dwt_max_level,
    idwt2,
    wavedec2,
    wavelet_filters,
    waverec2,
)

__all__ = [
    "box_blur",
    "correlate2d",
    "gaussian_blur",
    "gaussian_kernel",
    "median_blur",
    "laplacian",
    "sharpen_laplacian",
    "unsharp_mask",
    "sobel",
    "equalize_hist",
    "match_histograms",
    "equalize_local",
    "match_histograms_local",
    "local_mean_std",
    "local_statistics_mask",
    "local_statistics_enhance",
    "distance_grid",
    "transfer_function",
    "frequency_filter",
    "ideal_lowpass",
    "ideal_highpass",
    "butterworth_lowpass",
    "butterworth_highpass",
    "gaussian_lowpass",
    "gaussian_highpass",
    "image_histogram",
    "compare_figure",
    "dft2",
    "idft2",
    "dct_matrix",
    "dct2",
    "idct2",
    "block_dct2",
    "block_idct2",
    "walsh_hadamard",
    "inverse_walsh_hadamard",
    "sequency_order",
    "daubechies_filter",
    "wavelet_filters",
    "dwt_max_level",
    "dwt2",
    "idwt2",
    "wavedec2",
    "waverec2",
]
