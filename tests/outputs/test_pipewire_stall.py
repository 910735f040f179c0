"""When frames stop reaching PipeWire, the camera waits for a busy consumer and rebuilds only a
stuck producer: the rules on a fake clock, and the reading of PipeWire's own graph dump."""

from __future__ import annotations

import json
import logging

import pytest

from vbgcam.outputs.pipewire.links import consumers_from_dump, linked_consumers
from vbgcam.outputs.pipewire.stall import StallJudge

BLOCKED = "a frame write blocked"


class Graph:
    """What PipeWire would answer: the links to our node, and how often it was asked."""

    def __init__(self, links: dict[int, str] | None) -> None:
        self.links = links
        self.asked = 0

    def __call__(self) -> dict[int, str] | None:
        self.asked += 1
        return None if self.links is None else dict(self.links)


def test_a_consumer_linked_before_frames_stopped_is_waited_for_until_it_reads_again() -> None:
    graph = Graph({41: "Chromium"})
    judge = StallJudge(graph, check_every_s=0.5, hung_s=10.0)
    assert judge.verdict(None, 0.0) is None
    for tick in range(1, 60):  # six seconds of a busy app, ticks of 0.1 s
        assert judge.verdict(BLOCKED, tick / 10) is None
    assert judge.verdict(None, 6.0) is None
    assert judge.waits == 1
    assert graph.asked <= 13, "PipeWire asked more than twice a second"


def test_a_consumer_that_takes_nothing_for_the_hung_time_gives_way_to_a_rebuild() -> None:
    judge = StallJudge(Graph({41: "Chromium"}), check_every_s=0.5, hung_s=10.0)
    verdicts = [judge.verdict(BLOCKED, tick / 10) for tick in range(0, 101)]
    assert all(v is None for v in verdicts[:-1])
    assert verdicts[-1] is not None and "Chromium" in verdicts[-1] and "frozen" in verdicts[-1]


def test_a_stall_with_nobody_linked_rebuilds_at_once() -> None:
    judge = StallJudge(Graph({}))
    reason = judge.verdict(BLOCKED, 5.0)
    assert reason is not None and "no app is linked" in reason


def test_when_the_stalled_consumer_leaves_the_state_change_rebuilds_without_waiting() -> None:
    graph = Graph({41: "gst-launch-1.0"})
    judge = StallJudge(graph, check_every_s=0.5)
    assert judge.verdict(BLOCKED, 0.0) is None
    graph.links = {}  # killed: PipeWire removed its link
    assert judge.verdict(BLOCKED, 0.1) is None  # no new look before the regular check...
    assert judge.verdict(BLOCKED, 0.2, ask_now=True) is not None  # ...unless the state moved


def test_an_app_that_linked_after_frames_stopped_gets_a_rebuild_after_the_grace() -> None:
    graph = Graph({41: "gst-launch-1.0"})
    judge = StallJudge(graph, check_every_s=0.5, new_link_grace_s=1.0)
    assert judge.verdict(BLOCKED, 0.0) is None
    graph.links = {57: "OBS"}  # the old one left and a new one met the stuck producer
    assert judge.verdict(BLOCKED, 0.5) is None
    assert judge.verdict(BLOCKED, 1.0) is None
    reason = judge.verdict(BLOCKED, 1.5)
    assert reason is not None and "linked since" in reason


def test_without_an_answer_from_pipewire_a_stall_rebuilds_as_before() -> None:
    reason = StallJudge(Graph(None)).verdict(BLOCKED, 0.0)
    assert reason is not None and "cannot say" in reason


def test_a_busy_consumer_is_told_once_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vbgcam.outputs.pipewire.stall")
    judge = StallJudge(Graph({41: "Chromium"}), check_every_s=0.1)
    for stall in range(3):
        for tick in range(10):
            judge.verdict(BLOCKED, stall * 10 + tick / 10)
        judge.verdict(None, stall * 10 + 2)
    told = [r.getMessage() for r in caplog.records if "Chromium" in r.getMessage()]
    assert len(told) == 1 and "waiting for it" in told[0]


def dump(producer_pid: int, links: list[tuple[int, int]]) -> str:
    """A pw-dump of a desktop: WirePlumber, our gst-launch node 36, a browser node 39, a
    second vbgcam's node 50 under the same name, and ``links`` (id, input node)."""
    objects: list[dict[str, object]] = [
        {"id": 31, "type": "PipeWire:Interface:Client", "info": {"props": {
            "application.name": "WirePlumber", "application.process.id": 900}}},
        {"id": 35, "type": "PipeWire:Interface:Client", "info": {"props": {
            "application.name": "gst-launch-1.0", "application.process.id": producer_pid}}},
        {"id": 36, "type": "PipeWire:Interface:Node", "info": {"state": "running", "props": {
            "node.name": "vbgcam", "client.id": 35, "media.class": "Video/Source"}}},
        {"id": 38, "type": "PipeWire:Interface:Client", "info": {"props": {
            "application.name": "Chromium", "application.process.id": 4242}}},
        {"id": 39, "type": "PipeWire:Interface:Node", "info": {"props": {
            "node.name": "chromium", "client.id": 38}}},
        {"id": 49, "type": "PipeWire:Interface:Client", "info": {"props": {
            "application.name": "gst-launch-1.0", "application.process.id": 7777}}},
        {"id": 50, "type": "PipeWire:Interface:Node", "info": {"props": {
            "node.name": "vbgcam", "client.id": 49}}},
    ]  # fmt: skip
    for link_id, input_node in links:
        objects.append({"id": link_id, "type": "PipeWire:Interface:Link", "info": {
            "output-node-id": 36, "input-node-id": input_node, "state": "active"}})  # fmt: skip
    objects.append({"id": 60, "type": "PipeWire:Interface:Link", "info": {
        "output-node-id": 50, "input-node-id": 39, "state": "active"}})  # fmt: skip
    return json.dumps(objects)


def test_the_dump_names_the_apps_linked_to_our_node_and_not_to_another_vbgcam() -> None:
    assert consumers_from_dump(dump(1234, [(41, 39)]), 1234, "vbgcam") == {41: "Chromium"}
    assert consumers_from_dump(dump(1234, []), 1234, "vbgcam") == {}


def test_a_dump_that_cannot_be_read_is_no_answer_not_no_consumer() -> None:
    assert consumers_from_dump("not json", 1, "vbgcam") is None
    assert consumers_from_dump('{"a": 1}', 1, "vbgcam") is None
    # Our node missing (between rebuilds): unknown, never "nobody is linked".
    assert consumers_from_dump(dump(1234, []), 1234, "other") is None
    assert linked_consumers(1234, "vbgcam", dump=lambda: None) is None
