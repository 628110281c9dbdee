"""Spatial filters against OpenCV and scipy.ndimage on random and real (scikit-image) images."""

import cv2
import numpy as np
import pytest
import scipy.ndimage as ndi

from deepnotes import vision

SHAPES = [(37, 53), (20, 31, 3), (5, 4)]


def _rand(rng, shape, dtype):
    if dtype == np.uint8:
        return rng.integers(0, 256, shape).astype(np.uint8)
    return rng.random(shape).astype(dtype)


def _cv_per_channel(fn, img):
    if img.ndim == 2:
        return fn(img)
    return np.stack([fn(np.ascontiguousarray(img[..., c])) for c in range(img.shape[2])], axis=-1)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_box_blur_float_equals_cv2_and_scipy(rng, shape, k):
    f = _rand(rng, shape, np.float64)
    ours = vision.box_blur(f, k)
    np.testing.assert_allclose(ours, _cv_per_channel(lambda p: cv2.blur(p, (k, k)), f), atol=1e-12)
    size = (k, k) if f.ndim == 2 else (k, k, 1)
    np.testing.assert_allclose(ours, ndi.uniform_filter(f, size, mode="mirror"), atol=1e-12)
    assert ours.dtype == np.float64


@pytest.mark.parametrize("k", [3, 5, 9])
def test_box_blur_uint8_equals_cv2(rng, camera, astronaut, k):
    for img in (camera, astronaut, _rand(rng, (41, 29), np.uint8)):
        ours = vision.box_blur(img, k)
        assert ours.dtype == np.uint8
        np.testing.assert_array_equal(ours, _cv_per_channel(lambda p: cv2.blur(p, (k, k)), img))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("k", "sigma"), [(3, 0.8), (5, 1.0), (7, 1.5), (11, 3.0)])
def test_gaussian_blur_float_equals_cv2_and_scipy(rng, shape, k, sigma):
    f = _rand(rng, shape, np.float64)
    ours = vision.gaussian_blur(f, k, sigma)
    np.testing.assert_allclose(ours, _cv_per_channel(lambda p: cv2.GaussianBlur(p, (k, k), sigma), f), atol=1e-12)
    if min(shape[:2]) > k // 2:  # scipy's mirror differs from reflect-101 only when the kernel is wider than the image
        sig = (sigma, sigma) if f.ndim == 2 else (sigma, sigma, 0)
        ref = ndi.gaussian_filter(f, sig, mode="mirror", radius=k // 2)
        np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_gaussian_kernel_equals_cv2():
    for k, s in [(3, 0.5), (5, 1.0), (9, 2.5)]:
        np.testing.assert_allclose(
            vision.gaussian_kernel(k, s), cv2.getGaussianKernel(k, s, cv2.CV_64F).ravel(), atol=1e-15
        )


def test_gaussian_blur_uint8_rounding_convention(camera, astronaut):
    # ours: exact float64 blur rounded half to even; OpenCV's 8-bit path is fixed-point, so within one level
    for img in (camera, astronaut):
        ours = vision.gaussian_blur(img, 5, 1.2)
        exact = _cv_per_channel(lambda p: cv2.GaussianBlur(p, (5, 5), 1.2), img.astype(np.float64))
        np.testing.assert_array_equal(ours, np.clip(np.rint(exact), 0, 255).astype(np.uint8))
        diff = np.abs(ours.astype(int) - _cv_per_channel(lambda p: cv2.GaussianBlur(p, (5, 5), 1.2), img))
        assert diff.max() <= 1


@pytest.mark.parametrize("k", [3, 5, 7])
def test_median_blur_equals_cv2_and_scipy(rng, camera, astronaut, k):
    for img in (camera, astronaut, _rand(rng, (23, 17), np.uint8)):
        ours = vision.median_blur(img, k)
        assert ours.dtype == np.uint8
        np.testing.assert_array_equal(ours, _cv_per_channel(lambda p: cv2.medianBlur(p, k), img))
    for shape in SHAPES:
        f = _rand(rng, shape, np.float64)
        size = (k, k) if f.ndim == 2 else (k, k, 1)
        np.testing.assert_array_equal(vision.median_blur(f, k), ndi.median_filter(f, size=size, mode="nearest"))
    f32 = _rand(rng, (19, 21), np.float32)
    if k <= 5:  # OpenCV's float median only exists for 3 and 5
        np.testing.assert_array_equal(vision.median_blur(f32, k), cv2.medianBlur(f32, k))


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_laplacian_equals_cv2_and_scipy(rng, camera, dtype):
    for img in (_rand(rng, (33, 45), dtype), camera.astype(dtype)):
        ours = vision.laplacian(img)
        assert ours.dtype == np.float64
        np.testing.assert_allclose(ours, cv2.Laplacian(img.astype(np.float64), cv2.CV_64F), atol=1e-12)
        np.testing.assert_allclose(ours, ndi.laplace(img.astype(np.float64), mode="mirror"), atol=1e-12)
    np.testing.assert_allclose(vision.laplacian(camera), cv2.Laplacian(camera, cv2.CV_64F), atol=0)


def test_sharpen_laplacian_and_unsharp_mask_formulas(rng, camera, astronaut):
    for img in (camera, astronaut, _rand(rng, (21, 26, 3), np.float64)):
        f = img.astype(np.float64)
        lap = _cv_per_channel(lambda p: cv2.Laplacian(p, cv2.CV_64F), f)
        blur = _cv_per_channel(lambda p: cv2.GaussianBlur(p, (5, 5), 1.0), f)
        sharp = f - 0.7 * lap
        unsharp = f + 1.5 * (f - blur)
        if img.dtype == np.uint8:
            sharp = np.clip(np.rint(sharp), 0, 255)
            unsharp = np.clip(np.rint(unsharp), 0, 255)
        np.testing.assert_allclose(vision.sharpen_laplacian(img, 0.7), sharp, atol=1e-12)
        np.testing.assert_allclose(vision.unsharp_mask(img, 5, 1.0, 1.5), unsharp, atol=1e-12)
        assert vision.unsharp_mask(img).dtype == img.dtype


def test_sharpening_raises_edge_contrast(camera):
    # a vertical step edge: sharpening overshoots on both sides, so the contrast across the edge grows
    step = np.zeros((20, 20))
    step[:, 10:] = 1.0
    for g in (vision.sharpen_laplacian(step), vision.unsharp_mask(step, 5, 1.0, 1.0)):
        assert g[:, 10].min() > 1.0 and g[:, 9].max() < 0.0


@pytest.mark.parametrize("k", [3, 5, 7])
@pytest.mark.parametrize(("dx", "dy"), [(1, 0), (0, 1), (1, 1), (2, 0), (0, 2)])
def test_sobel_equals_cv2(rng, camera, astronaut, k, dx, dy):
    for img in (_rand(rng, (29, 34), np.float64), _rand(rng, (16, 13, 3), np.float32), camera, astronaut):
        ours = vision.sobel(img, dx, dy, k)
        ref = _cv_per_channel(lambda p: cv2.Sobel(p, cv2.CV_64F, dx, dy, ksize=k), img)
        scale = max(1.0, np.abs(ref).max())
        np.testing.assert_allclose(ours, ref, atol=1e-12 * scale if img.dtype != np.float32 else 1e-4 * scale)


def test_sobel_3_equals_scipy(rng):
    f = _rand(rng, (25, 30), np.float64)
    np.testing.assert_allclose(vision.sobel(f, 1, 0), ndi.sobel(f, axis=1, mode="mirror"), atol=1e-12)
    np.testing.assert_allclose(vision.sobel(f, 0, 1), ndi.sobel(f, axis=0, mode="mirror"), atol=1e-12)


def test_correlate2d_equals_filter2d(rng, astronaut):
    kern = rng.standard_normal((3, 5))
    ref = _cv_per_channel(lambda p: cv2.filter2D(p, cv2.CV_64F, kern), astronaut.astype(np.float64))
    np.testing.assert_allclose(vision.correlate2d(astronaut, kern), ref, atol=1e-9)


def test_tiny_images_reflect_like_cv2(rng):
    for shape in [(1, 1), (1, 6), (2, 2), (3, 2)]:
        f = _rand(rng, shape, np.float64)
        np.testing.assert_allclose(vision.box_blur(f, 5), cv2.blur(f, (5, 5)), atol=1e-12)
        np.testing.assert_allclose(vision.gaussian_blur(f, 7, 2.0), cv2.GaussianBlur(f, (7, 7), 2.0), atol=1e-12)
