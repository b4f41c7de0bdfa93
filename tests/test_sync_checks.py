"""The payload checks' fast paths (valid values) leave every refusal to the full checks, with the same message."""

from __future__ import annotations

import enum

import pytest

from edge.sync import checks as c
from edge.sync.checks import PayloadError


class Level(enum.IntEnum):
    ONE = 1


@pytest.mark.parametrize("value, integer, ok", [
    (1, False, True), (1.5, False, True), (0, True, True), (Level.ONE, True, True), (-0.0, False, True),
    (True, False, False), (1.0, True, False), (float("nan"), False, False), (float("inf"), False, False),
    (11, False, False), (-1e-9, False, False), ("1", False, False), (None, False, False)])
def test_number(value, integer, ok):
    if ok:
        assert c.number(value, "x", 0, 10, integer=integer) == value
    else:
        with pytest.raises(PayloadError, match=r"^x: (expected an? (integer|number)|must be within \[0, 10\])"):
            c.number(value, "x", 0, 10, integer=integer)


def test_number_huge_int_still_overflows_like_before():
    with pytest.raises(OverflowError):
        c.number(10**400, "x", 0, 10)


@pytest.mark.parametrize("value, message", [
    ({"a": 1, "b": 2}, None), ({"a": 1, "b": 2, "o": 3}, None),
    ({"a": 1}, "x: missing required field(s) ['b'], got None"),
    ({"a": 1, "b": 2, "z": 0}, "x: unknown field(s) ['z']; valid: ['a', 'b', 'o'], got 'z'"),
    ({"a": 1, "z": 0}, "x: unknown field(s) ['z']; valid: ['a', 'b', 'o'], got 'z'"),
    ([], "x: expected an object, got 'list'")])
def test_mapping(value, message):
    if message is None:
        assert c.mapping(value, "x", {"a", "b"}, {"o"}) is value
    else:
        with pytest.raises(PayloadError) as err:
            c.mapping(value, "x", {"a", "b"}, {"o"})
        assert str(err.value) == message
