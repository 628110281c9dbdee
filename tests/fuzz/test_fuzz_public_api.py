"""Issue #11: every registered public function, called with valid, empty, non-finite, wrongly shaped and
wrongly typed inputs, gives torch's result or a clear error (see ``fuzz_harness`` for the rules and
``fuzz_registry`` for the functions)."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fuzz_harness as H
from fuzz_registry import ENTRIES

PROFILE = settings.get_profile("fuzz" if os.environ.get("FUZZ_SHRINK", "1") != "0" else "fuzz-noshrink")


def _params(check):
    return [pytest.param(e, id=e.id) for e in ENTRIES if check(e)]


def test_registry_covers_at_least_70_public_functions():
    paths = {e.path for e in ENTRIES}
    assert len(paths) >= 70, sorted(paths)
    for e in ENTRIES:
        assert callable(H.resolve(e.path)), e.path
    assert len({e.id for e in ENTRIES}) == len(ENTRIES), "duplicate test ids in the registry"


@pytest.mark.parametrize("entry", _params(lambda e: True))
@settings(PROFILE, max_examples=12)
@given(data=st.data())
def test_valid(entry, data):
    H.check_valid(entry, data)


@pytest.mark.parametrize("entry", _params(lambda e: e.empty))
@settings(PROFILE, max_examples=4)
@given(data=st.data())
def test_empty(entry, data):
    H.check_empty(entry, data)


@pytest.mark.parametrize("entry", _params(lambda e: e.floats))
@settings(PROFILE, max_examples=8)
@given(data=st.data())
def test_nonfinite(entry, data):
    H.check_nonfinite(entry, data)


@pytest.mark.parametrize("entry", _params(lambda e: e.positions))
@settings(PROFILE, max_examples=8)
@given(data=st.data())
def test_wrong_shape(entry, data):
    H.check_shape(entry, data)


@pytest.mark.parametrize("entry", _params(lambda e: e.positions))
@settings(PROFILE, max_examples=6)
@given(data=st.data())
def test_wrong_dtype(entry, data):
    H.check_dtype(entry, data)


@pytest.mark.parametrize("entry", _params(lambda e: e.positions))
@settings(PROFILE, max_examples=3)
@given(data=st.data())
def test_wrong_type(entry, data):
    H.check_type(entry, data)
