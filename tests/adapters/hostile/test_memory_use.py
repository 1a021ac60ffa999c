"""`adapters.hostile.memory_use`: what a process really uses (anonymous resident memory, not its address space), and
the follower that keeps the soft `RLIMIT_DATA` at what is mapped plus the room a task has left (issue 75 item 1)."""

from __future__ import annotations

import resource

import numpy as np

from adapters.hostile.memory_use import Follower, reset_peak, resident_peak, statm

MIB = 1 << 20


def test_reserved_address_space_is_mapped_not_used() -> None:
    before = statm()
    assert before is not None
    reserved = np.empty(256 * MIB, np.uint8)  # mapped, never touched
    mapped = statm()
    assert mapped is not None
    assert mapped[0] - before[0] >= 255 * MIB and mapped[1] - before[1] < 16 * MIB
    reserved[:] = 1  # touched: now it is use
    used = statm()
    assert used is not None and used[1] - before[1] >= 255 * MIB
    del reserved


def test_the_cap_is_what_is_mapped_plus_the_room_left_never_past_the_ceiling() -> None:
    follower = Follower()  # stepped by hand here: no thread
    saved = resource.getrlimit(resource.RLIMIT_DATA)
    try:
        follower.watch(lambda used: 100 * MIB, resource.RLIM_INFINITY)
        follower.step()
        mapped = statm()
        assert mapped is not None
        assert abs(resource.getrlimit(resource.RLIMIT_DATA)[0] - (mapped[0] + 100 * MIB)) < 8 * MIB
        follower.watch(lambda used: -5 * MIB, resource.RLIM_INFINITY)  # past its limit: nothing new may be mapped
        follower.step()
        assert resource.getrlimit(resource.RLIMIT_DATA)[0] <= mapped[0] + 8 * MIB
        ceiling = mapped[0] + 20 * MIB
        follower.watch(lambda used: 100 * MIB, ceiling)  # an operator's limit is never raised
        follower.step()
        assert resource.getrlimit(resource.RLIMIT_DATA)[0] == ceiling
        resource.setrlimit(resource.RLIMIT_DATA, saved)
        follower.watch(None, resource.RLIM_INFINITY)  # stopped: a step sets nothing
        follower.step()
        assert resource.getrlimit(resource.RLIMIT_DATA) == saved
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, saved)


def test_the_resident_peak_is_reset_to_now() -> None:
    now = reset_peak()
    if now is None:  # a kernel that does not allow clear_refs: nothing to check
        return
    block = np.ones(64 * MIB, np.uint8)
    del block
    peak = resident_peak()
    assert peak is not None and peak - now >= 60 * MIB
