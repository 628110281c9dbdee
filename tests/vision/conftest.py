import numpy as np
import pytest

skdata = pytest.importorskip("skimage.data")  # a test dependency (the `test` extra); never skipped in CI


@pytest.fixture(scope="session")
def camera():
    return skdata.camera()[::2, ::2].copy()  # 256 x 256 grey uint8 photograph


@pytest.fixture(scope="session")
def astronaut():
    return skdata.astronaut()[::4, ::4].copy()  # 128 x 128 x 3 colour uint8 photograph


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
