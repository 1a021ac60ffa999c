"""`adapters.hostile.memos`: what a parse process learnt comes back as what it added since its fork, and the parent's
memo keeps within its cap (the parse processes' own round trip: tests/adapters/hostile/test_sandbox.py)."""

from __future__ import annotations

from adapters.hostile import memos


def test_what_was_added_since_the_fork_is_learnt_and_a_memo_past_its_cap_starts_again() -> None:
    known = memos.memo("test-memo", 4)
    known.update(dict.fromkeys("ab"))
    at_fork = memos.marks()
    known.update(dict.fromkeys("cd"))
    assert memos.since(at_fork)["test-memo"] == ["c", "d"]
    known.clear()  # emptied past its cap in the child: all it holds is new
    known["e"] = None
    assert memos.since(at_fork)["test-memo"] == ["e"]
    known.clear()
    known.update(dict.fromkeys("wxyz"))
    memos.learn({"test-memo": ["v"]})
    assert list(known) == ["v"], "past its cap the parent's memo starts again, as the child's does"
    memos.learn({"test-memo": ["w"]})
    assert list(known) == ["v", "w"]
    known.clear()
