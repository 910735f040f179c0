"""Who reads the camera, as PipeWire itself tells it: the links from our node to consumers.

The producer's log says whether frames move, not why they stopped. A consumer that is busy
(a loaded machine, a browser tab in the background) and a producer stuck after a consumer
vanished (PipeWire 0.3 leaves ``pipewiresink`` waiting forever for the buffers a killed
consumer held) look the same from the log; PipeWire's graph tells them apart: in the first
case the consumer's link is still there, in the second it is gone.

``pw-dump`` answers in JSON (10 ms of CPU with a private daemon here); it is asked only while
frames have stopped, never while they flow.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from vbgcam.outputs.pipewire.info import run_tool

LINK = "PipeWire:Interface:Link"
NODE = "PipeWire:Interface:Node"
CLIENT = "PipeWire:Interface:Client"


def run_pw_dump() -> str | None:
    """``pw-dump``'s JSON text, or None when the tool is missing, fails or hangs (a daemon
    that does not answer)."""
    return run_tool(["pw-dump", "--no-colors"])


def _props(item: dict[str, Any]) -> dict[str, Any]:
    info = item.get("info") or {}
    props = info.get("props") or {}
    return props if isinstance(props, dict) else {}


def consumers_from_dump(text: str, producer_pid: int, node_name: str) -> dict[int, str] | None:
    """{link id: consumer application name} for every link out of our node.

    Our node is the one whose client runs as ``producer_pid`` (two vbgcams may both publish
    a node called ``node_name``); the name alone is used when PipeWire hides the pid. None when
    the text is not a dump, or our node is not in it (then nobody can be linked to it either,
    but the caller must not read that as "no consumer": the node may be between rebuilds).
    """
    try:
        objects = json.loads(text)
    except ValueError:
        return None
    if not isinstance(objects, list):
        return None
    items = [item for item in objects if isinstance(item, dict)]
    clients = {item.get("id"): _props(item) for item in items if item.get("type") == CLIENT}
    nodes = {item.get("id"): item for item in items if item.get("type") == NODE}
    named = [item for item in nodes.values() if _props(item).get("node.name") == node_name]
    ours = [
        item
        for item in named
        if str(clients.get(_props(item).get("client.id"), {}).get("application.process.id"))
        == str(producer_pid)
    ] or named
    if len(ours) != 1:
        return None
    node_id = ours[0].get("id")
    found: dict[int, str] = {}
    for item in items:
        info = item.get("info") or {}
        if item.get("type") != LINK or info.get("output-node-id") != node_id:
            continue
        consumer = nodes.get(info.get("input-node-id"), {})
        client = clients.get(_props(consumer).get("client.id"), {})
        name = client.get("application.name") or _props(consumer).get("node.name") or "an app"
        found[int(item["id"])] = str(name)
    return found


def linked_consumers(
    producer_pid: int, node_name: str, dump: Callable[[], str | None] = run_pw_dump
) -> dict[int, str] | None:
    """The consumers linked to our node now, or None when PipeWire cannot be asked."""
    text = dump()
    return None if text is None else consumers_from_dump(text, producer_pid, node_name)
