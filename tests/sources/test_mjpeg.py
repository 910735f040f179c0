"""MJPG frames decoded by simplejpeg: the picture OpenCV gives, and nothing lost.

Cameras and MJPG files hand over their JPEGs undecoded and ``MjpegDecoder`` decodes them
(2.7x as fast as ``cv2.imdecode``); these tests hold it to OpenCV's own decoding, on
webcam-like pictures at the qualities and chroma layouts cameras send, and on bad packets.
Brightness is the same to a few levels; colour is upsampled by repetition, not OpenCV's
interpolation, which every output format (I420, YUY2) halves again, so colour is compared
as a consumer receives it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import CLIP_SIZE
from vbgcam.sources import VideoFileSource, _CaptureReader
from vbgcam.sources.demo_scene import DemoScene
from vbgcam.sources.mjpeg import MjpegDecoder, is_jpeg_packet


def camera_picture(width: int = 640, height: int = 360) -> np.ndarray:
    """The demo scene with a webcam's sensor noise: detail at every scale to encode."""
    frame = np.empty((height, width, 3), np.uint8)
    DemoScene(width, height).render(1.3, frame)
    noise = np.random.default_rng(3).normal(0, 2.5, frame.shape)
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


def jpeg(picture: np.ndarray, quality: int = 90, sampling: int | None = None) -> np.ndarray:
    options = [cv2.IMWRITE_JPEG_QUALITY, quality]
    if sampling is not None:
        options += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sampling]
    ok, packet = cv2.imencode(".jpg", picture, options)
    assert ok
    return packet.reshape(1, -1)  # as a V4L2 capture hands it over: one row of bytes


@pytest.mark.parametrize("quality", [50, 80, 95])
@pytest.mark.parametrize(
    "sampling",
    [cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422],
    ids=["4:2:0", "4:2:2"],
)
def test_a_camera_jpeg_decodes_to_the_picture_opencv_gives(quality: int, sampling: int) -> None:
    packet = jpeg(camera_picture(), quality, sampling)
    frame = np.zeros((360, 640, 3), np.uint8)
    assert MjpegDecoder().decode_into(packet, frame)
    reference = cv2.imdecode(packet, cv2.IMREAD_COLOR)
    assert_same_for_a_consumer(frame, reference)


def assert_same_for_a_consumer(frame: np.ndarray, reference: np.ndarray) -> None:
    """Equal as I420, what a virtual camera sends: luma to a few levels (rounding where a
    colour clips), chroma to within a level on average (sharp colour edges differ most)."""
    ours = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).astype(int)
    theirs = cv2.cvtColor(reference, cv2.COLOR_BGR2YUV_I420).astype(int)
    height = frame.shape[0]
    assert np.abs(ours[:height] - theirs[:height]).max() <= 4
    assert np.abs(ours[height:] - theirs[height:]).mean() < 1
    assert np.abs(frame.astype(int) - reference).mean() < 1


def test_a_jpeg_of_another_size_is_scaled_into_the_frame() -> None:
    picture = camera_picture(640, 480)
    packet = jpeg(picture)
    frame = np.zeros((360, 640, 3), np.uint8)
    decoder = MjpegDecoder()
    assert decoder.decode_into(packet, frame)
    expected = cv2.resize(
        cv2.imdecode(packet, cv2.IMREAD_COLOR), (640, 360), interpolation=cv2.INTER_AREA
    )
    assert_same_for_a_consumer(frame, expected)
    assert decoder.decode_into(packet, frame)  # and again, through the same scratch picture


def test_bytes_that_are_not_a_picture_are_refused_without_an_exception() -> None:
    frame = np.full((360, 640, 3), 7, np.uint8)
    garbage = np.frombuffer(b"\xff\xd8" + bytes(range(256)) * 8, np.uint8).reshape(1, -1)
    assert MjpegDecoder().decode_into(garbage, frame) is False
    assert MjpegDecoder().decode_into(np.zeros((1, 100), np.uint8), frame) is False


def test_a_frame_cut_short_in_transfer_is_shown_as_far_as_it_came() -> None:
    """USB drops the tail of a frame now and then; OpenCV shows what arrived, and so do we."""
    picture = camera_picture()
    packet = jpeg(picture)
    cut = packet[:, : packet.shape[1] * 2 // 3]
    frame = np.zeros((360, 640, 3), np.uint8)
    assert MjpegDecoder().decode_into(cut, frame)
    top = slice(0, 100)
    assert np.abs(frame[top].astype(int) - picture[top]).mean() < 3


def test_a_decoded_picture_is_not_taken_for_a_packet() -> None:
    assert is_jpeg_packet(jpeg(camera_picture()))
    assert not is_jpeg_packet(camera_picture())
    assert not is_jpeg_packet(np.full((1, 640), 0xFF, np.uint8))  # a picture one row high


def test_an_mjpg_file_is_read_as_packets_and_decoded_like_opencv(demo_clip: Path) -> None:
    source = VideoFileSource(demo_clip, loop=False)
    assert source._reader.compressed, "the MJPG file was not read as packets"
    reference = cv2.VideoCapture(str(demo_clip))
    width, height = CLIP_SIZE
    frame = np.empty((height, width, 3), np.uint8)
    frames = 0
    while source.read_into(frame):
        ok, expected = reference.read()
        assert ok
        # OpenCV decodes files with FFmpeg's decoder, which rounds a little differently
        assert np.abs(frame.astype(int) - expected).mean() < 2, frames
        frames += 1
    reference.release()
    source.close()
    assert frames == source.frame_count == 64


def test_a_capture_that_decodes_anyway_is_read_as_pictures(demo_clip: Path) -> None:
    """A backend that ignores the request for packets still delivers every frame."""
    reader = _CaptureReader(cv2.VideoCapture(str(demo_clip)), compressed=True)
    reference = cv2.VideoCapture(str(demo_clip))
    width, height = CLIP_SIZE
    frame = np.empty((height, width, 3), np.uint8)
    for _ in range(3):
        assert reader.read_into(frame)
        ok, expected = reference.read()
        assert ok and np.array_equal(frame, expected)
    assert reader.compressed is False
    reader.close()
    reference.release()


@pytest.mark.parametrize("damaged", [[10], [10, 11, 12, 13, 14, 15]], ids=["one", "six-in-a-row"])
def test_damaged_frames_in_an_mjpg_file_are_skipped_not_taken_for_the_end(
    demo_clip: Path, tmp_path: Path, damaged: list[int]
) -> None:
    """Packets that are no JPEG at all (their start marker lost) are frames lost, not the end
    of the video: a render would otherwise stop there, and a looped file start over."""
    from tests.conftest import decode_all

    data = bytearray(demo_clip.read_bytes())
    starts = [i for i in range(len(data) - 2) if data[i : i + 3] == b"\xff\xd8\xff"]
    assert len(starts) == 64, "one JPEG start marker per frame expected in the test clip"
    for index in damaged:
        data[starts[index] : starts[index] + 2] = b"\x00\x00"
    damaged_clip = tmp_path / "damaged.avi"
    damaged_clip.write_bytes(bytes(data))

    expected = [f for i, f in enumerate(decode_all(demo_clip)) if i not in damaged]
    source = VideoFileSource(damaged_clip, loop=False)
    width, height = CLIP_SIZE
    frame = np.empty((height, width, 3), np.uint8)
    delivered = []
    while source.read_into(frame):
        delivered.append(frame.copy())
    source.close()
    assert len(delivered) == 64 - len(damaged)
    assert all(np.array_equal(got, want) for got, want in zip(delivered, expected, strict=True))


def test_a_jpeg_header_claiming_a_giant_picture_is_a_lost_frame_not_a_giant_buffer() -> None:
    """A damaged size field (16000x16000) must not make the decoder allocate 730 MB."""
    packet = jpeg(camera_picture()).ravel().copy()
    sof = bytes(packet).index(b"\xff\xc0")  # baseline frame header: height, then width
    packet[sof + 5 : sof + 9] = np.frombuffer((16000).to_bytes(2, "big") * 2, np.uint8)
    decoder = MjpegDecoder()
    frame = np.zeros((360, 640, 3), np.uint8)
    assert decoder.decode_into(packet.reshape(1, -1), frame) is False
    assert decoder._scratch is None or decoder._scratch.nbytes < 10_000_000


def test_without_simplejpeg_opencv_decodes_the_same_picture(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An install from before simplejpeg was a dependency keeps working, only slower."""
    import vbgcam.sources.mjpeg

    monkeypatch.setattr(vbgcam.sources.mjpeg, "simplejpeg", None)
    packet = jpeg(camera_picture())
    frame = np.zeros((360, 640, 3), np.uint8)
    assert MjpegDecoder().decode_into(packet, frame)
    assert np.array_equal(frame, cv2.imdecode(packet, cv2.IMREAD_COLOR))


class RawCamera:
    """Stands in for a V4L2 camera (none can exist on a test machine) whose raw frames turn
    out not to be JPEGs: OpenCV's capture interface, packets until asked to convert."""

    def __init__(self, picture: np.ndarray) -> None:
        self.picture = picture
        self.convert = False

    def read(self, image: np.ndarray | None = None) -> tuple[bool, np.ndarray]:
        if self.convert:
            return True, self.picture.copy()
        return True, np.full((1, 5000), 7, np.uint8)  # raw YUYV bytes, say

    def set(self, prop: int, value: float) -> bool:
        if prop == cv2.CAP_PROP_CONVERT_RGB:
            self.convert = bool(value)
            return True
        return False

    def release(self) -> None:
        pass


def test_a_camera_whose_raw_frames_are_not_jpegs_is_decoded_by_opencv_soon() -> None:
    """Within a few frames, well before the capture thread would call the camera lost; and
    the camera is not asked for raw frames again when it is reopened."""
    from vbgcam.sources import GIVE_UP_RAW_AFTER, NOT_JPEG_CAMERAS

    picture = camera_picture()
    camera = RawCamera(picture)
    reader = _CaptureReader(camera, compressed=True, name="/dev/video7")  # type: ignore[arg-type]
    frame = np.zeros_like(picture)
    failed = 0
    while not reader.read_into(frame):
        failed += 1
        assert failed <= GIVE_UP_RAW_AFTER, "the reader never gave up on raw frames"
    assert camera.convert and not reader.compressed
    assert np.array_equal(frame, picture)
    assert failed * 4 / 30 < 0.5, "raw frames were tried for longer than half a second"
    assert "/dev/video7" in NOT_JPEG_CAMERAS
    NOT_JPEG_CAMERAS.discard("/dev/video7")
