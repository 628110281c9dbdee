"""Forward passes against torchvision with its randomly initialised weights copied in: evaluation mode
in float32 (rtol 1e-4), training mode in float64 (outputs, batch-norm running statistics and, for some
models, every parameter gradient).  Inputs are small (32x32-75x75, batch 2) to keep the suite fast."""

import pytest
import torch

from deepnotes import models


def _tv(zoo, name, **kwargs):
    return zoo.tv_build(name, **kwargs)


@pytest.fixture(scope="module")
def tv_alexnet(zoo):
    return _tv(zoo, "alexnet", dropout=0.0)


@pytest.fixture(scope="module")
def tv_vgg11(zoo):
    return _tv(zoo, "vgg11")


@pytest.fixture(scope="module")
def tv_vgg11_bn(zoo):
    return _tv(zoo, "vgg11_bn", dropout=0.0)


@pytest.fixture(scope="module")
def tv_googlenet(zoo):
    return _tv(zoo, "googlenet", aux_logits=True, dropout=0.0, dropout_aux=0.0, num_classes=20)


@pytest.fixture(scope="module")
def tv_inception(zoo):
    return _tv(zoo, "inception_v3", aux_logits=True, num_classes=20)


@pytest.fixture(scope="module")
def tv_resnet18(zoo):
    return _tv(zoo, "resnet18")


@pytest.fixture(scope="module")
def tv_resnet50(zoo):
    return _tv(zoo, "resnet50", num_classes=10)


@pytest.fixture(scope="module")
def tv_densenet121(zoo):
    return _tv(zoo, "densenet121", num_classes=10)


# ------------------------------------------------------------------------------------ AlexNet, VGG
def test_alexnet_eval(zoo, tv_alexnet):
    zoo.compare_eval(zoo.fast_build("alexnet", dropout=0.0), tv_alexnet, (2, 3, 64, 64))


@pytest.mark.slow
def test_vgg11_eval(zoo, tv_vgg11):
    zoo.compare_eval(zoo.fast_build("vgg11"), tv_vgg11, (2, 3, 32, 32))


@pytest.mark.slow
def test_vgg11_bn_eval_and_train(zoo, tv_vgg11_bn):
    zoo.compare_eval(zoo.fast_build("vgg11_bn", dropout=0.0), tv_vgg11_bn, (2, 3, 32, 32))
    # train mode differs from eval only in the batch norms of ``features``: compare that part in float64
    ours = zoo.fast_build("vgg11_bn", dropout=0.0)
    zoo.compare_train(ours.features, tv_vgg11_bn.features, (2, 3, 32, 32), grads=True)


# ------------------------------------------------------------------------------------ GoogLeNet, Inception v3
def test_googlenet_eval_returns_logits(zoo, tv_googlenet):
    out = zoo.compare_eval(zoo.fast_build("googlenet", num_classes=20, aux_logits=True), tv_googlenet, (2, 3, 48, 48))
    assert out.shape == (2, 20)


@pytest.mark.slow
def test_googlenet_train_returns_aux_outputs_with_gradients(zoo, tv_googlenet):
    ours, _ = zoo.compare_train(
        zoo.fast_build("googlenet", num_classes=20, aux_logits=True, dropout=0.0, dropout_aux=0.0),
        tv_googlenet,
        (2, 3, 48, 48),
        grads=True,
        outputs=lambda out: [out.logits, out.aux_logits2, out.aux_logits1],
    )
    assert isinstance(ours(zoo_input(zoo, (2, 3, 32, 32))), models.GoogLeNetOutputs)


def test_googlenet_transform_input(zoo, tv_googlenet):
    ref = _tv(zoo, "googlenet", aux_logits=False, transform_input=True, num_classes=20)
    zoo.compare_eval(
        zoo.fast_build("googlenet", aux_logits=False, transform_input=True, num_classes=20), ref, (2, 3, 32, 32)
    )


def test_inception_v3_eval(zoo, tv_inception):
    zoo.compare_eval(zoo.fast_build("inception_v3", num_classes=20), tv_inception, (2, 3, 75, 75))


@pytest.mark.slow
def test_inception_v3_train(zoo, tv_inception):
    """Training mode at 75x75; the auxiliary head (which needs 299x299) is removed on both sides, so the
    output is InceptionOutputs(logits, None) as in torchvision."""
    ref = zoo.tv_build("inception_v3", aux_logits=True, num_classes=20, dropout=0.0, init_weights=False)
    ref.load_state_dict(tv_inception.state_dict())
    ref.AuxLogits = None
    ours = zoo.fast_build("inception_v3", num_classes=20, dropout=0.0)
    ours.load_state_dict(tv_inception.state_dict())
    ours.AuxLogits = None
    out, _ = zoo.compare_train(ours, ref, (2, 3, 75, 75), outputs=lambda o: [o.logits])
    result = out(zoo_input(zoo, (2, 3, 75, 75)).double())
    assert isinstance(result, models.InceptionOutputs) and result.aux_logits is None


def test_inception_v3_aux_head_train(zoo, tv_inception):
    """The auxiliary head needs a 17x17 grid (299x299 images): checked on its own, with gradients."""
    ref = tv_inception.AuxLogits
    ours = models.inception_v3(num_classes=20).AuxLogits
    zoo.compare_train(ours, ref, (2, 768, 17, 17), grads=True)


# ------------------------------------------------------------------------------------ ResNet / ResNeXt
def test_resnet18_eval(zoo, tv_resnet18):
    zoo.compare_eval(zoo.fast_build("resnet18"), tv_resnet18, (2, 3, 32, 32))


@pytest.mark.slow
def test_resnet18_train_with_gradients(zoo, tv_resnet18):
    zoo.compare_train(zoo.fast_build("resnet18"), tv_resnet18, (2, 3, 32, 32), grads=True)


@pytest.mark.slow
def test_resnet50_eval_and_train(zoo, tv_resnet50):
    zoo.compare_eval(zoo.fast_build("resnet50", num_classes=10), tv_resnet50, (2, 3, 32, 32))
    zoo.compare_train(zoo.fast_build("resnet50", num_classes=10), tv_resnet50, (2, 3, 32, 32))


def test_resnext50_dilated_eval(zoo):
    """Grouped 3x3 convolutions (32 groups) and the last stage's stride replaced by dilation 2."""
    kw = dict(num_classes=10, replace_stride_with_dilation=[False, False, True])
    zoo.compare_eval(zoo.fast_build("resnext50_32x4d", **kw), _tv(zoo, "resnext50_32x4d", **kw), (2, 3, 32, 32))


def test_resnet_blocks_alone(zoo):
    """BasicBlock / Bottleneck as reusable blocks (with a downsampling shortcut), float64 train mode."""
    from torchvision.models import resnet as tvr

    from deepnotes import nn

    for ours_cls, ref_cls, planes in ((models.BasicBlock, tvr.BasicBlock, 16), (models.Bottleneck, tvr.Bottleneck, 8)):
        out = planes * ours_cls.expansion
        ref = ref_cls(
            12,
            planes,
            stride=2,
            downsample=torch.nn.Sequential(torch.nn.Conv2d(12, out, 1, 2, bias=False), torch.nn.BatchNorm2d(out)),
        )
        ours = ours_cls(
            12, planes, stride=2, downsample=nn.Sequential(nn.Conv2d(12, out, 1, 2, bias=False), nn.BatchNorm2d(out))
        )
        zoo.compare_train(ours, ref, (2, 12, 9, 9), grads=True)


# ------------------------------------------------------------------------------------ DenseNet
def test_densenet121_eval_and_train(zoo, tv_densenet121):
    zoo.compare_eval(zoo.fast_build("densenet121", num_classes=10), tv_densenet121, (2, 3, 32, 32))
    zoo.compare_train(zoo.fast_build("densenet121", num_classes=10), tv_densenet121, (2, 3, 32, 32))


def zoo_input(zoo, shape):
    from deepnotes import tensor

    return tensor(zoo.image(shape))
