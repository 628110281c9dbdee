"""LeNet-5 (LeCun et al., 1998), the network of seed 002: conv-pool-conv-pool-fc-fc-fc on 32x32 inputs.

``LeNet5`` is the modern reading used for training here: ReLU activations, max pooling and a full
C3 layer.  Layer sizes: C1 6@28x28, S2 6@14x14, C3 16@10x10, S4 16@5x5, C5 120, F6 84, output 10.
"""
from .. import nn


class LeNet5(nn.Module):
    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5),   # C1: 32x32 -> 28x28
            nn.ReLU(),
            nn.MaxPool2d(2),                            # S2: 28x28 -> 14x14
            nn.Conv2d(6, 16, kernel_size=5),            # C3: 14x14 -> 10x10
            nn.ReLU(),
            nn.MaxPool2d(2),                            # S4: 10x10 -> 5x5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),                 # C5
            nn.ReLU(),
            nn.Linear(120, 84),                         # F6
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        if x.ndim != 4 or x.shape[-2:] != (32, 32):
            raise ValueError(f"LeNet5: expected input of shape (N, C, 32, 32), got {x.shape}")
        return self.classifier(self.features(x))
