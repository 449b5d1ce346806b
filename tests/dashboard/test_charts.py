"""The calibration matrix's cells: counts in the API's order, shaded by their share of the
largest (pure, no database)."""

from __future__ import annotations

from app.dashboard import charts


def test_matrix_rows_are_up_then_down_with_the_counts_in_order() -> None:
    votes = {
        "down": {"correct": 1, "incomplete": 3, "incorrect": 6},
        "up": {"correct": 5, "incomplete": 2, "incorrect": 0},
    }
    rows = charts.confusion_matrix(votes)
    assert [r["vote"] for r in rows] == ["up", "down"]
    assert [[(c["verdict"], c["count"]) for c in r["cells"]] for r in rows] == [
        [("correct", 5), ("incomplete", 2), ("incorrect", 0)],
        [("correct", 1), ("incomplete", 3), ("incorrect", 6)],
    ]


def test_shades_grow_with_the_count_and_only_zero_is_unshaded() -> None:
    votes = {
        "up": {"correct": 0, "incomplete": 1, "incorrect": 50},
        "down": {"correct": 99, "incomplete": 100, "incorrect": 20},
    }
    heat = {
        (r["vote"], c["verdict"]): c["heat"]
        for r in charts.confusion_matrix(votes)
        for c in r["cells"]
    }
    assert heat[("up", "correct")] == 0
    assert heat[("up", "incomplete")] == 1  # any vote at all is visible
    assert heat[("down", "incomplete")] == charts.HEAT_LEVELS  # the largest is darkest
    assert heat[("up", "incorrect")] == 3
    assert heat[("down", "incorrect")] == 1
    assert heat[("down", "correct")] == charts.HEAT_LEVELS


def test_an_empty_window_is_all_unshaded() -> None:
    empty = {v: {"correct": 0, "incomplete": 0, "incorrect": 0} for v in ("up", "down")}
    assert {c["heat"] for r in charts.confusion_matrix(empty) for c in r["cells"]} == {0}
