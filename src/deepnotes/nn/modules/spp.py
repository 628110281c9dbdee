"""Spatial pyramid pooling (SPP-net, He et al. 2014): a fixed-length feature vector for inputs of any
size, so a convolutional trunk can feed fully connected layers without cropping or warping images."""

from .. import functional as F
from .module import Module


class SpatialPyramidPooling(Module):
    """Pool the feature map into grids of adaptive bins, one grid per pyramid level, and concatenate.

    ``levels`` lists grid sizes n (an n x n grid) or (oh, ow) pairs, default (1, 2, 4) (a 21-bin
    pyramid); ``mode`` 'max' (the paper) or 'avg'.  (N, C, H, W) -> (N, C * sum_l oh_l ow_l) for every
    H, W (the bins adapt: bin i covers [floor(i H / n), ceil((i + 1) H / n))); each level is flattened
    channel-major, then levels follow each other.  No parameters.
    """

    def __init__(self, levels=(1, 2, 4), mode="max"):
        super().__init__()
        if mode not in ("max", "avg"):
            raise ValueError(f"SpatialPyramidPooling: mode must be 'max' or 'avg', got {mode!r}")
        self.levels = tuple(F._spp_levels(levels, "SpatialPyramidPooling"))
        self.mode = mode

    def output_features(self, channels):
        """Length of the output vector for ``channels`` input channels."""
        return channels * sum(oh * ow for oh, ow in self.levels)

    def forward(self, input):
        return F.spatial_pyramid_pool(input, self.levels, self.mode)

    def extra_repr(self):
        return f"levels={self.levels}, mode={self.mode!r}"
