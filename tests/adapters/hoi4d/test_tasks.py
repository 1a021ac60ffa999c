"""A sequence's task text from its category and task ids, as the maker's task table defines them."""

from __future__ import annotations

from adapters.hoi4d.tasks import TASKS, task_text


def test_task_text_from_the_makers_table() -> None:
    assert task_text("C5", "T2") == "Bottle: Pour all the water into a mug"
    assert task_text("C1", "T1") == "Toy Car: Pick and place"
    assert task_text("C3", "T3") is None and task_text("C10", "T1") is None and task_text("C1", "X1") is None
    assert len(TASKS) == 16 and all(1 <= len(tasks) <= 6 for _, tasks in TASKS.values())
