"""AlexNet (Krizhevsky et al., 2012) in torchvision's single-tower form (the "one weird trick" variant).

Five convolutions (11x11/4, 5x5, 3x3 x3) with ReLU and three overlapping 3x3/2 max pools, a 6x6
adaptive average pool, then dropout-FC(4096)-ReLU-dropout-FC(4096)-ReLU-FC.  61,100,840 parameters at
1000 classes.  Input (N, 3, H, W) with H, W >= 63 -> (N, num_classes).
"""

from .. import nn
from ._utils import _LocatedModel, _no_weights


class AlexNet(_LocatedModel):
    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def alexnet(*, weights=None, progress=True, **kwargs):
    """AlexNet with torchvision's layer names (``features.N``, ``classifier.N``) and default init."""
    _no_weights(weights, "alexnet")
    return AlexNet(**kwargs)


__all__ = ["AlexNet", "alexnet"]
