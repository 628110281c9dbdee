"""The comparison figure: two images and their histograms, with the plotted bars equal to the counts."""

import matplotlib
import numpy as np
import pytest

from deepnotes import vision

matplotlib.use("Agg")


def test_histogram_counts(rng, astronaut):
    counts, edges = vision.image_histogram(astronaut)
    np.testing.assert_array_equal(counts, np.bincount(astronaut.ravel(), minlength=256))
    assert len(edges) == 257 and counts.sum() == astronaut.size
    f = rng.random((20, 30))
    c2, e2 = vision.image_histogram(f, 16)
    ref_c, ref_e = np.histogram(f, 16, range=(f.min(), f.max()))
    np.testing.assert_array_equal(c2, ref_c)
    np.testing.assert_allclose(e2, ref_e)


def test_compare_figure_shows_images_and_histograms(tmp_path, camera):
    import matplotlib.pyplot as plt

    eq = vision.equalize_hist(camera)
    path = tmp_path / "eq.png"
    fig = vision.compare_figure(camera, eq, path, titles=("camera", "equalised"))
    try:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        axes = fig.axes
        assert len(axes) == 4
        np.testing.assert_array_equal(axes[0].images[0].get_array(), camera)
        np.testing.assert_array_equal(axes[1].images[0].get_array(), eq)
        for ax, im in ((axes[2], camera), (axes[3], eq)):
            heights = [p.get_height() for p in ax.patches]
            np.testing.assert_array_equal(heights, np.bincount(im.ravel(), minlength=256))
        assert axes[3].get_title() == "histogram of equalised"
    finally:
        plt.close(fig)


def test_compare_figure_bad_input(camera):
    with pytest.raises(TypeError, match="compare_figure: expected an image of dtype"):
        vision.compare_figure(camera, camera.astype(np.int64))
    with pytest.raises(ValueError, match="compare_figure: titles must be two strings"):
        vision.compare_figure(camera, camera, titles=("a",))
