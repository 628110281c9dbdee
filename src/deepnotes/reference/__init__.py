"""The textbook beside the fast path: plain, slow, loop-by-loop versions of the vectorised kernels.

The kernels of deepnotes are vectorised well beyond the formulas of the notes (im2col, phase-split
depthwise passes, running maxima over strided views, fused batch-norm passes, fused recurrent layers,
windowed NMS, matrix-product RoI Align, an all-at-once COCO matcher).  Each function here computes the
same thing the way the notes explain it -- explicit loops over samples, channels, output positions,
time steps, boxes -- with small NumPy only and no autograd, so that a reader can hold the two side by
side.  ``tests/reference`` checks on random small shapes that fast == reference (values and gradients,
float64) and checks each reference once against PyTorch (or pycocotools).

They are slow by design: use tiny arrays.  Notes ids refer to ``notes-index.tsv``.

======================================================  ==================================================  ==========================
reference                                               fast kernel it mirrors                              notes
======================================================  ==================================================  ==========================
``conv.conv2d_forward`` / ``conv2d_backward``           ``ops.conv.Conv2dFn`` (``im2col``/``col2im``)        S003-01 S001-03 S001-09
                                                                                                            S001-11 S000-10 S002-23
``conv.depthwise_conv2d_forward`` / ``_backward``       ``ops.conv.Conv2dFn._depthwise_forward`` /           S000-12 S000-13 S002-79
                                                        ``_depthwise_backward``
``conv.conv_transpose2d_forward`` / ``_backward``       ``ops.conv_transpose.ConvTranspose2dFn``             S001-09 S003-01
``pool.max_pool2d_forward`` / ``max_pool2d_backward``   ``ops.pool.MaxPool2dFn``                             S001-04 S001-07 S003-25
``pool.avg_pool2d_forward`` / ``avg_pool2d_backward``   ``ops.pool.AvgPool2dFn``                             S001-04 S001-07 S003-25
``batchnorm.batch_norm_forward`` / ``_backward``        ``ops.norm.BatchNormFn``                             S001-31 S001-32 S001-35
``rnn.lstm_cell_forward`` / ``lstm_cell_backward``,     ``ops.rnn.RNNLayerFn`` (``mode='lstm'``)             S000-08 S002-17 S002-52
``rnn.lstm_layer_forward`` / ``lstm_layer_backward``
``rnn.gru_cell_forward`` / ``gru_cell_backward``,       ``ops.rnn.RNNLayerFn`` (``mode='gru'``)              S002-13 S002-15 S002-53
``rnn.gru_layer_forward`` / ``gru_layer_backward``
``nms.nms`` (also batched, with ``idxs``)               ``detection.nms.nms`` / ``batched_nms``              S001-95 S001-86
``roi_align.roi_align_forward`` / ``_backward``         ``detection.roi.roi_align``                          S001-108 S001-107
``coco_match.coco_match_image``                         ``detection.coco.COCOeval.evaluate`` (``evalImgs``)  S001-104 S001-98 S001-105
======================================================  ==================================================  ==========================
"""
from .batchnorm import batch_norm_backward, batch_norm_forward
from .coco_match import coco_box_iou, coco_match_image
from .conv import (conv2d_backward, conv2d_forward, conv_transpose2d_backward, conv_transpose2d_forward,
                   depthwise_conv2d_backward, depthwise_conv2d_forward)
from .nms import box_iou_pair, nms
from .pool import (avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward,
                   pool_output_size)
from .rnn import (gru_cell_backward, gru_cell_forward, gru_layer_backward, gru_layer_forward, lstm_cell_backward,
                  lstm_cell_forward, lstm_layer_backward, lstm_layer_forward)
from .roi_align import bilinear_neighbours, roi_align_backward, roi_align_forward

__all__ = [
    "conv2d_forward", "conv2d_backward", "depthwise_conv2d_forward", "depthwise_conv2d_backward",
    "conv_transpose2d_forward", "conv_transpose2d_backward",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward", "pool_output_size",
    "batch_norm_forward", "batch_norm_backward",
    "lstm_cell_forward", "lstm_cell_backward", "lstm_layer_forward", "lstm_layer_backward",
    "gru_cell_forward", "gru_cell_backward", "gru_layer_forward", "gru_layer_backward",
    "nms", "box_iou_pair", "roi_align_forward", "roi_align_backward", "bilinear_neighbours",
    "coco_match_image", "coco_box_iou",
]
