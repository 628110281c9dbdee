"""The textbook beside the fast path: plain, slow, loop-by-loop versions of the vectorised kernels.

The kernels of deepnotes are vectorised well beyond the formulas of the notes (im2col, phase-split
depthwise passes, running maxima over strided views, fused batch-norm passes, fused recurrent layers,
windowed NMS, matrix-product RoI Align, an all-at-once COCO matcher).  Each function here computes the
same thing the way the notes explain it -- explicit loops over samples, channels, output positions,
time steps, boxes -- with small NumPy only and no autograd, so that a reader can hold the two side by
side.  ``tests/reference`` checks on random small shapes that fast == reference (values and gradients,
float64) and checks each reference once against PyTorch (or pycocotools).

They are slow by design: use tiny arrays.  Notes ids refer to ``notes-index.tsv``.

Each entry: the reference functions, the fast kernel they mirror, the notes ids.

* ``conv.conv2d_forward``, ``conv.conv2d_backward`` (grad input, weight, bias; stride, padding, dilation,
  groups) -- ``ops.conv.Conv2dFn`` (``im2col`` + GEMM forward, ``col2im`` backward).
  Notes S003-01, S001-03, S001-09, S001-11, S000-10, S002-23.
* ``conv.depthwise_conv2d_forward``, ``conv.depthwise_conv2d_backward`` -- the depthwise path of
  ``ops.conv.Conv2dFn`` (``_depthwise_forward``, ``_depthwise_backward``: shifted multiply-adds over
  stride phases).  Notes S000-12, S000-13, S002-79.
* ``conv.conv_transpose2d_forward``, ``conv.conv_transpose2d_backward`` --
  ``ops.conv_transpose.ConvTranspose2dFn`` (``col2im`` of ``W^T x``).  Notes S001-09, S003-01.
* ``pool.max_pool2d_forward``, ``pool.max_pool2d_backward`` (ceil_mode, dilation, arg-max indices) --
  ``ops.pool.MaxPool2dFn``.  Notes S001-04, S001-07, S003-25.
* ``pool.avg_pool2d_forward``, ``pool.avg_pool2d_backward`` (ceil_mode, count_include_pad,
  divisor_override) -- ``ops.pool.AvgPool2dFn``.  Notes S001-04, S001-07, S003-25.
* ``batchnorm.batch_norm_forward`` (training and evaluation, running estimates),
  ``batchnorm.batch_norm_backward`` -- ``ops.norm.BatchNormFn``.  Notes S001-31, S001-32, S001-35.
* ``rnn.lstm_cell_forward``, ``rnn.lstm_cell_backward``, ``rnn.lstm_layer_forward``,
  ``rnn.lstm_layer_backward`` (back-propagation through time) -- ``ops.rnn.RNNLayerFn`` with
  ``mode='lstm'``.  Notes S000-08, S002-17, S002-52.
* ``rnn.gru_cell_forward``, ``rnn.gru_cell_backward``, ``rnn.gru_layer_forward``,
  ``rnn.gru_layer_backward`` -- ``ops.rnn.RNNLayerFn`` with ``mode='gru'``.  Notes S002-13, S002-15, S002-53.
* ``nms.nms`` (greedy; class-aware with ``idxs``) -- ``detection.nms.nms``, ``detection.nms.batched_nms``.
  Notes S001-95, S001-86.
* ``roi_align.roi_align_forward``, ``roi_align.roi_align_backward`` (sampling_ratio, aligned) --
  ``detection.roi.roi_align``.  Notes S001-108, S001-107.
* ``coco_match.coco_match_image`` (one image, one category; crowd and area-range ignore rules) --
  ``detection.coco.COCOeval.evaluate`` and its ``evalImgs`` records.  Notes S001-104, S001-98, S001-105.
"""

from .batchnorm import batch_norm_backward, batch_norm_forward
from .coco_match import coco_box_iou, coco_match_image
from .conv import (
    conv2d_backward,
    conv2d_forward,
    conv_transpose2d_backward,
    conv_transpose2d_forward,
    depthwise_conv2d_backward,
    depthwise_conv2d_forward,
)
from .nms import box_iou_pair, nms
from .pool import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward, pool_output_size
from .rnn import (
    gru_cell_backward,
    gru_cell_forward,
    gru_layer_backward,
    gru_layer_forward,
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_layer_backward,
    lstm_layer_forward,
)
from .roi_align import bilinear_neighbours, roi_align_backward, roi_align_forward

__all__ = [
    "conv2d_forward",
    "conv2d_backward",
    "depthwise_conv2d_forward",
    "depthwise_conv2d_backward",
    "conv_transpose2d_forward",
    "conv_transpose2d_backward",
    "max_pool2d_forward",
    "max_pool2d_backward",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
    "pool_output_size",
    "batch_norm_forward",
    "batch_norm_backward",
    "lstm_cell_forward",
    "lstm_cell_backward",
    "lstm_layer_forward",
    "lstm_layer_backward",
    "gru_cell_forward",
    "gru_cell_backward",
    "gru_layer_forward",
    "gru_layer_backward",
    "nms",
    "box_iou_pair",
    "roi_align_forward",
    "roi_align_backward",
    "bilinear_neighbours",
    "coco_match_image",
    "coco_box_iou",
]
