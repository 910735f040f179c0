"""`vbgcam bench --json` gathers each benchmark's JSON into one document."""

from __future__ import annotations

from vbgcam.devtools.bench_all import _json_of


def test_a_document_after_a_notice_line_is_found_whole() -> None:
    def main(argv: list[str]) -> int:
        print("no ../shared/data: timing the demo scene only")
        print('[{"size": "640x360", "fps": [1, 2]}]')
        return 0

    assert _json_of(main, ["--json"]) == [{"size": "640x360", "fps": [1, 2]}]


def test_a_benchmark_that_skips_says_why() -> None:
    def main(argv: list[str]) -> int:
        print("PipeWire benchmark skipped: this machine lacks pipewire")
        return 0

    assert _json_of(main, []) == {
        "skipped": "PipeWire benchmark skipped: this machine lacks pipewire"
    }
