"""satisfaction = up / (up + down), None without votes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.votes.service import satisfaction


def test_satisfaction_examples() -> None:
    assert satisfaction(0, 0) is None
    assert satisfaction(3, 1) == 0.75
    assert satisfaction(0, 2) == 0.0


@given(up=st.integers(0, 10**9), down=st.integers(0, 10**9))
def test_satisfaction_is_the_up_share(up: int, down: int) -> None:
    value = satisfaction(up, down)
    if up + down == 0:
        assert value is None
    else:
        assert value is not None
        assert 0.0 <= value <= 1.0
        assert value == pytest.approx(up / (up + down))
        assert (value == 1.0) == (down == 0)
