"""The newest-wins ring between two stage threads."""

from __future__ import annotations

import threading
import time

import pytest

from vbgcam.pipeline.ringbuffer import RingBuffer

SHAPE = (4, 6, 3)


def write(ring: RingBuffer, value: int, capture_ts: float = 0.0) -> int:
    """Fill a free slot with ``value`` everywhere and commit it; returns its sequence number."""
    slot, image = ring.begin_write()
    image.fill(value)
    return ring.commit(slot, capture_ts)


def test_reader_gets_the_newest_frame_and_learns_how_many_it_skipped() -> None:
    ring = RingBuffer(SHAPE)
    for value in (10, 11, 12):
        write(ring, value, capture_ts=value / 100)

    first = ring.acquire_newest(0, timeout_s=0)
    assert first is not None
    assert (first.seq, first.skipped) == (3, 0)  # frames before the first read are not "skipped"
    assert (first.image == 12).all()
    assert first.capture_ts == 0.12
    ring.release(first)

    for value in (13, 14, 15, 16):
        write(ring, value)
    second = ring.acquire_newest(first.seq, timeout_s=0)
    assert second is not None
    assert (second.seq, second.skipped) == (7, 3)
    assert (second.image == 16).all()
    ring.release(second)

    write(ring, 17)
    third = ring.acquire_newest(second.seq, timeout_s=0)
    assert third is not None
    assert (third.seq, third.skipped) == (8, 0)


def test_writer_never_blocks_while_the_reader_holds_a_pinned_frame() -> None:
    ring = RingBuffer(SHAPE)
    write(ring, 1)
    pinned = ring.acquire_newest(0, timeout_s=0)
    assert pinned is not None
    committed: list[int] = []

    def writer() -> None:
        for value in range(2, 202):
            committed.append(write(ring, value))

    thread = threading.Thread(target=writer, name="test-writer")
    thread.start()
    thread.join(timeout=5)

    assert not thread.is_alive(), "the writer blocked on a pinned frame"
    assert committed == list(range(2, 202))
    assert (pinned.image == 1).all(), "the writer overwrote the pinned frame"
    ring.release(pinned)
    newest = ring.acquire_newest(pinned.seq, timeout_s=0)
    assert newest is not None
    assert (newest.image == 201).all()
    assert newest.skipped == 199


def test_acquire_with_a_timeout_returns_none_when_no_frame_comes() -> None:
    ring = RingBuffer(SHAPE)
    start = time.monotonic()
    assert ring.acquire_newest(0, timeout_s=0.05) is None
    assert 0.04 <= time.monotonic() - start < 1.0


def test_acquire_returns_none_when_nothing_is_newer_than_the_last_frame_seen() -> None:
    ring = RingBuffer(SHAPE)
    seq = write(ring, 5)
    assert ring.acquire_newest(seq, timeout_s=0) is None


def test_close_wakes_a_reader_waiting_without_a_timeout() -> None:
    ring = RingBuffer(SHAPE)
    results: list[object] = []
    waiting = threading.Event()

    def reader() -> None:
        waiting.set()
        results.append(ring.acquire_newest(0, timeout_s=None))

    thread = threading.Thread(target=reader, name="test-reader")
    thread.start()
    assert waiting.wait(2)
    ring.close()
    thread.join(timeout=2)

    assert not thread.is_alive(), "close() did not wake the waiting reader"
    assert results == [None]


def test_a_frame_committed_from_another_thread_wakes_the_reader() -> None:
    ring = RingBuffer(SHAPE)
    timer = threading.Timer(0.02, write, args=(ring, 42))
    timer.start()
    ref = ring.acquire_newest(0, timeout_s=5)
    timer.join()
    assert ref is not None
    assert (ref.image == 42).all()


def test_slots_are_preallocated_and_reused() -> None:
    ring = RingBuffer(SHAPE)
    seen = set()
    for value in range(30):
        slot, image = ring.begin_write()
        seen.add(id(image))
        image.fill(value)
        ring.commit(slot, 0.0)
    assert len(seen) == 3
    assert ring.shape == SHAPE
    assert ring.last_seq == 30


def test_acquiring_a_second_frame_before_releasing_the_first_is_an_error() -> None:
    ring = RingBuffer(SHAPE)
    write(ring, 1)
    assert ring.acquire_newest(0, timeout_s=0) is not None
    write(ring, 2)
    with pytest.raises(RuntimeError, match="release the previous frame"):
        ring.acquire_newest(1, timeout_s=0)


@pytest.mark.parametrize("slots", [pytest.param(1, id="one"), pytest.param(2, id="two")])
def test_fewer_than_three_slots_is_refused(slots: int) -> None:
    with pytest.raises(ValueError, match="at least 3 slots"):
        RingBuffer(SHAPE, slots=slots)


def test_a_held_frame_is_swapped_for_the_newest_and_kept_while_none_is_newer() -> None:
    """The sender keeps the frame it repeats pinned, never a copy: the writer must not touch
    it, and the swap to a newer frame releases it."""
    ring = RingBuffer(SHAPE)
    write(ring, 1)
    held = ring.acquire_newest(0, timeout_s=0)
    assert held is not None
    assert ring.acquire_newest(held.seq, timeout_s=0, replacing=held) is None
    assert ring.wait_for_newer(held.seq, timeout_s=0) is False
    for value in range(2, 50):  # the writer runs on and never lands on the held slot
        write(ring, value)
        assert (held.image == 1).all()
    assert ring.wait_for_newer(held.seq, timeout_s=0) is True
    newer = ring.acquire_newest(held.seq, timeout_s=0, replacing=held)
    assert newer is not None and (newer.image == 49).all()
    for value in range(50, 60):  # now the old slot is free again, and the new one is kept
        write(ring, value)
        assert (newer.image == 49).all()
    with pytest.raises(RuntimeError):  # only the frame actually held can be replaced
        ring.acquire_newest(newer.seq, timeout_s=0, replacing=held)
