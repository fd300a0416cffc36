"""Healthcheck durations in Go's `Duration.String()` form: what we write is what reads back."""

from __future__ import annotations

import pytest

from components.go_duration import HOUR, MICROSECOND, MILLISECOND, MINUTE, SECOND, go_string, parse, seconds

# the table of Go's own src/time/time_test.go (durationTests)
GO_TABLE = [
    (0, "0s"), (1, "1ns"), (1100, "1.1µs"), (2200 * MICROSECOND, "2.2ms"),
    (3300 * MILLISECOND, "3.3s"), (4 * MINUTE + 5 * SECOND, "4m5s"),
    (4 * MINUTE + 5001 * MILLISECOND, "4m5.001s"), (5 * HOUR + 6 * MINUTE + 7001 * MILLISECOND,
                                                    "5h6m7.001s"),
    (8 * MINUTE + 1, "8m0.000000001s"), ((1 << 63) - 1, "2562047h47m16.854775807s"),
    (-(1 << 63), "-2562047h47m16.854775808s"),
]


@pytest.mark.parametrize(("d", "text"), GO_TABLE)
def test_matches_go_table(d: int, text: str) -> None:
    assert go_string(d) == text
    assert parse(text) == d


def test_seconds_in_go_form() -> None:
    assert [seconds(n) for n in (5, 10, 30, 60, 90, 3600)] == \
        ["5s", "10s", "30s", "1m0s", "1m30s", "1h0m0s"]


def test_non_canonical_forms_do_not_round_trip() -> None:
    # what the provider would read back differs from what was written: a diff on every `up`
    assert go_string(parse("60s")) == "1m0s" != "60s"
    assert go_string(parse("90s")) == "1m30s"
    assert parse("1.5m") == 90 * SECOND and parse("500ms") == SECOND // 2
    for bad in ("", "10", "s", "1x", "1m 0s"):
        with pytest.raises(ValueError):
            parse(bad)
