"""Small DCGAN-style networks for the bundled digits (16x16 or 32x32 grey images in [-1, 1]).

``DCGANGenerator``: z (N, nz) -> Linear -> (4*ngf, 4, 4) -> BatchNorm, ReLU -> one stride-2 4x4
transposed convolution per doubling (BatchNorm and ReLU between them, channels halved each time) ->
tanh, as in Radford et al. (2016) scaled down.

``DCGANDiscriminator``: stride-2 4x4 convolutions with LeakyReLU(0.2), doubling the channels, down to
4x4, then a linear layer to one raw score per image (shape (N,)).  It has no batch normalisation, so
each sample's score depends on that sample alone, which the WGAN-GP gradient penalty requires; the
same network serves as the GAN discriminator (its score is the logit of "real") and the WGAN critic.

``TranslationGenerator``: the image-to-image generator of the CycleGAN demo, three 3x3 convolutions.
"""

from __future__ import annotations

from .. import nn

__all__ = ["DCGANGenerator", "DCGANDiscriminator", "TranslationGenerator"]


def _doublings(image_size, name):
    if image_size not in (8, 16, 32):
        raise ValueError(f"{name}: image_size must be 8, 16 or 32, got {image_size!r}")
    return {8: 1, 16: 2, 32: 3}[image_size]


class _Unflatten(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self):
        return f"shape={self.shape}"


class DCGANGenerator(nn.Module):
    """z (N, nz) -> images (N, channels, image_size, image_size) in [-1, 1].

    ``native_size`` (default ``image_size``): the side the convolutions produce; a smaller one is then
    resized to ``image_size`` by fixed bilinear upsampling (align_corners=False).  The bundled digits
    are 8x8 originals upsampled that way, so ``native_size=8`` lets the generator produce exactly the kind
    of image the data set holds at 16x16 or 32x32."""

    def __init__(self, nz=64, ngf=32, image_size=16, channels=1, native_size=None):
        super().__init__()
        native = image_size if native_size is None else native_size
        steps = _doublings(native, "DCGANGenerator")
        _doublings(image_size, "DCGANGenerator")
        if native > image_size:
            raise ValueError(f"DCGANGenerator: native_size {native} is larger than image_size {image_size}")
        self.nz, self.image_size, self.channels = int(nz), int(image_size), int(channels)
        self.native_size = int(native)
        width = ngf * 2 ** (steps - 1)
        layers = [nn.Linear(nz, width * 16), _Unflatten((width, 4, 4)), nn.BatchNorm2d(width), nn.ReLU()]
        for _ in range(steps - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1), nn.BatchNorm2d(width // 2), nn.ReLU()]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        if native < image_size:
            layers.append(nn.Upsample(scale_factor=image_size // native, mode="bilinear", align_corners=False))
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        if z.ndim != 2 or z.shape[1] != self.nz:
            raise ValueError(f"DCGANGenerator: expected noise of shape (N, {self.nz}), got {tuple(z.shape)}")
        return self.net(z)


class DCGANDiscriminator(nn.Module):
    """images (N, channels, image_size, image_size) -> one raw score per image, shape (N,)."""

    def __init__(self, ndf=32, image_size=16, channels=1):
        super().__init__()
        steps = _doublings(image_size, "DCGANDiscriminator")
        self.image_size, self.channels = int(image_size), int(channels)
        layers, width, inp = [], ndf, channels
        for _ in range(steps):
            layers += [nn.Conv2d(inp, width, 4, 2, 1), nn.LeakyReLU(0.2)]
            inp, width = width, width * 2
        layers += [nn.Flatten(), nn.Linear(inp * 16, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        expected = (self.channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"DCGANDiscriminator: expected images of shape (N, {', '.join(map(str, expected))}), got "
                f"{tuple(x.shape)}"
            )
        return self.net(x).reshape(-1)


class TranslationGenerator(nn.Module):
    """images (N, channels, H, W) in [-1, 1] -> images of the same shape in [-1, 1].

    Fully convolutional (three 3x3 convolutions, LeakyReLU(0.2), tanh; a 7x7 receptive field), so it
    changes the local style of strokes and keeps where they are, and works at any image size."""

    def __init__(self, width=16, channels=1):
        super().__init__()
        self.channels = int(channels)
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, width, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, channels, 3, 1, 1),
            nn.Tanh(),
        )

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(
                f"TranslationGenerator: expected images of shape (N, {self.channels}, H, W), got {tuple(x.shape)}"
            )
        return self.net(x)
