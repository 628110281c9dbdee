"""RoI Align the way the notes (and Mask R-CNN) describe it: for every bin, sample a few points,
read each one by bilinear interpolation, average.

Notes: S001-108 (RoI Align: no quantisation, bilinear sampling), S001-107 (RoI Pooling, which rounds).

Fast counterpart: :func:`deepnotes.detection.roi.roi_align` (bilinear weights factor into a row and a
column part, so per RoI the samples form two small matrices A_y, A_x and out = A_y @ crop @ A_x^T per
channel; batched over RoIs, no loop over bins or samples; the backward pass is the transpose).

Here the loops are the ones of torchvision's C++ kernel: RoI, bin row, bin column, sample row, sample
column; each sample's four neighbours and weights are computed by :func:`bilinear_neighbours`.
"""

import math

import numpy as np


def bilinear_neighbours(y, x, H, W):
    """The (row, col, weight) neighbours of a sample at (y, x) on an H x W map, torchvision's rule:

    * a sample with y < -1 or y > H (or x < -1 or x > W) lies outside: no neighbours (it reads 0);
    * y in [-1, 0] is moved to 0; y_low = floor(y), y_high = y_low + 1, except that a y_low at or past
      H - 1 reads row H - 1 only (y = y_low = y_high = H - 1); likewise x;
    * weights (1 - ly)(1 - lx), (1 - ly) lx, ly (1 - lx), ly lx with ly = y - y_low, lx = x - x_low.
    """
    if y < -1.0 or y > H or x < -1.0 or x > W:
        return []
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= H - 1:
        y_low = y_high = H - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= W - 1:
        x_low = x_high = W - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    return [(y_low, x_low, hy * hx), (y_low, x_high, hy * lx), (y_high, x_low, ly * hx), (y_high, x_high, ly * lx)]


def _bins(roi, output_size, spatial_scale, sampling_ratio, aligned):
    """Box start, bin size and sample grid of one RoI [batch, x1, y1, x2, y2] (S001-108):
    the box is scaled onto the map without rounding (shifted by -0.5 when ``aligned``; at least 1x1
    when not), split into output_size bins, each sampled on a grid of ``sampling_ratio`` points per
    side or, if that is <= 0, ceil(box side / bins) points."""
    PH, PW = output_size
    offset = 0.5 if aligned else 0.0
    x1, y1 = roi[1] * spatial_scale - offset, roi[2] * spatial_scale - offset
    x2, y2 = roi[3] * spatial_scale - offset, roi[4] * spatial_scale - offset
    roi_w, roi_h = x2 - x1, y2 - y1
    if not aligned:
        roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
    bin_h, bin_w = roi_h / PH, roi_w / PW
    grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / PH)
    grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / PW)
    return y1, x1, bin_h, bin_w, grid_h, grid_w


def _samples(roi, output_size, spatial_scale, sampling_ratio, aligned, H, W):
    """Yield (ph, pw, neighbours, 1 / count) for every sample point of every bin of one RoI."""
    y1, x1, bin_h, bin_w, grid_h, grid_w = _bins(roi, output_size, spatial_scale, sampling_ratio, aligned)
    count = max(grid_h * grid_w, 1)
    for ph in range(output_size[0]):
        for pw in range(output_size[1]):
            for iy in range(grid_h):
                y = y1 + ph * bin_h + (iy + 0.5) * bin_h / grid_h
                for ix in range(grid_w):
                    x = x1 + pw * bin_w + (ix + 0.5) * bin_w / grid_w
                    yield ph, pw, bilinear_neighbours(y, x, H, W), 1.0 / count


def roi_align_forward(x, rois, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """RoI Align of a feature map x (N, C, H, W) for rois (K, 5) rows [batch_index, x1, y1, x2, y2].

    out[k, :, ph, pw] = (1 / count) sum over the bin's sample points of the bilinear value there
    (count = grid_h * grid_w).  Returns (K, C, PH, PW).  Notes: S001-108.
    Fast kernel: :func:`deepnotes.detection.roi.roi_align` (``_align_forward``).
    """
    x = np.asarray(x, dtype=np.float64)
    N, C, H, W = x.shape
    PH, PW = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    rois = np.asarray(rois, dtype=np.float64)
    out = np.zeros((rois.shape[0], C, PH, PW))
    for k, roi in enumerate(rois):
        plane = x[int(roi[0])]
        for ph, pw, neighbours, share in _samples(roi, (PH, PW), spatial_scale, sampling_ratio, aligned, H, W):
            for r, q, wgt in neighbours:
                out[k, :, ph, pw] += share * wgt * plane[:, r, q]
    return out


def roi_align_backward(grad_out, x_shape, rois, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """Gradient of :func:`roi_align_forward` with respect to the feature map: every sample sends
    dy[k, :, ph, pw] / count * (bilinear weight) back to each of its four neighbours.
    Fast kernel: ``deepnotes.detection.roi._align_backward`` (the transposed matrix products).
    """
    dy = np.asarray(grad_out, dtype=np.float64)
    N, C, H, W = x_shape
    PH, PW = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    dx = np.zeros((N, C, H, W))
    for k, roi in enumerate(np.asarray(rois, dtype=np.float64)):
        n = int(roi[0])
        for ph, pw, neighbours, share in _samples(roi, (PH, PW), spatial_scale, sampling_ratio, aligned, H, W):
            for r, q, wgt in neighbours:
                dx[n, :, r, q] += share * wgt * dy[k, :, ph, pw]
    return dx
