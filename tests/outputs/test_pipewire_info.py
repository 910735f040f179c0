"""What PipeWire says about itself, read from ``pw-dump``'s JSON without a daemon: the
decisions that depend on it (is a session manager running?) are tested on recorded answers;
tests/outputs/test_pipewire.py asks a real private daemon."""

from __future__ import annotations

import json

import pytest

from vbgcam.outputs.pipewire import info

DUMP = json.dumps(
    [
        {"id": 0, "type": "PipeWire:Interface:Core", "info": {"props": {}}},
        {
            "id": 31,
            "type": "PipeWire:Interface:Client",
            "info": {
                "props": {"application.name": "WirePlumber", "pipewire.access": "unrestricted"}
            },
        },
        {
            "id": 44,
            "type": "PipeWire:Interface:Client",
            "info": {"props": {"application.name": "Chromium input"}},
        },
        {"id": 45, "type": "PipeWire:Interface:Client", "info": {"props": {}}},
        {"id": 50, "type": "PipeWire:Interface:Node", "info": {"props": {"application.name": "x"}}},
    ]
)


def test_client_names_come_from_the_clients_only() -> None:
    assert info.client_names(DUMP) == ["WirePlumber", "Chromium input"]


@pytest.mark.parametrize("dump", ["", "not json", "{}", "[1, null, {}]"])
def test_an_answer_that_is_no_list_of_objects_names_nobody(dump: str) -> None:
    assert info.client_names(dump) == []


def test_the_session_manager_is_found_among_the_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(info.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(info, "run_tool", lambda command: DUMP)
    assert info.session_manager() == "WirePlumber"
    monkeypatch.setattr(info, "run_tool", lambda command: "[]")
    assert info.session_manager() is None
