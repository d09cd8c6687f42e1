"""The frames an execution environment writes to the local runtime's worker pool (localhub.lambda_.workers)."""

from __future__ import annotations

import json
import os

import pytest

from localhub.lambda_.worker import HEADER
from localhub.lambda_.workers import FrameReader


def frame(body: dict[str, object]) -> bytes:
    payload = json.dumps(body).encode("utf-8")
    return HEADER.pack(len(payload)) + payload


def test_two_frames_written_before_the_first_is_read_are_both_read_without_waiting() -> None:
    # Given a worker that ended its init phase and answered its invocation before the pool read either frame
    # (on a loaded machine the pool's thread wakes late): both frames are in the pipe at once
    read_end, write_end = os.pipe()
    os.write(write_end, frame({"init": "done"}) + frame({"answer": 42}))
    reader = FrameReader(read_end)
    try:
        # When the pool reads the init frame, then the answer, each with a short timeout
        first = reader.read(1.0)
        second = reader.read(0.05)  # the answer is already there: no wait may time it out
    finally:
        reader.close()
        os.close(write_end)

    # Then each frame is read whole, in order, and the second is not lost in a buffer the pipe's readiness never sees
    assert (first, second) == ({"init": "done"}, {"answer": 42})


def test_a_frame_not_yet_written_times_out_and_an_ended_worker_is_end_of_file() -> None:
    read_end, write_end = os.pipe()
    reader = FrameReader(read_end)
    try:
        with pytest.raises(TimeoutError):
            reader.read(0.05)
        os.write(write_end, frame({"partial": True})[:3])  # a worker that died in the middle of its header
        os.close(write_end)
        with pytest.raises(EOFError):
            reader.read(1.0)
    finally:
        reader.close()
