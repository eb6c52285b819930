"""Face detection at reduced resolution, mapped back to full-resolution pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from acting_mirror import demo
from acting_mirror.config import DetectorConfig
from acting_mirror.detect import DetectorError, FaceDetector, crop_faces, find_cascade, to_full_resolution
from acting_mirror.track import iou_matrix
from acting_mirror.types import Box


def gray_frames(scenario: str, count: int, size: tuple[int, int]) -> list[np.ndarray]:
    return [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) for image in demo.synth_frames(scenario, count, size)]


def test_box_mapping_arithmetic():
    # a box found on a frame shrunk to a quarter maps back four times larger
    assert to_full_resolution((10, 20, 30, 40), 0.25, (720, 1280)) == Box(40, 80, 120, 160)
    # and is clipped to the frame
    assert to_full_resolution((300, 170, 40, 40), 0.25, (720, 1280)) == Box(1200, 680, 80, 40)


@pytest.mark.parametrize("scenario, expected", [("one", 1), ("two", 2), ("crowd", 20)])
def test_reduced_resolution_boxes_match_full_resolution(scenario, expected):
    reduced = FaceDetector(DetectorConfig(detection_width=400))
    full = FaceDetector(DetectorConfig(detection_width=0))
    assert reduced.detection_scale(1280) == pytest.approx(400 / 1280)
    for gray in gray_frames(scenario, 3, (1280, 720)):
        small_boxes, full_boxes = reduced.detect(gray), full.detect(gray)
        assert len(small_boxes) == len(full_boxes) == expected
        overlaps = iou_matrix(small_boxes, full_boxes)
        for box, overlap in zip(small_boxes, overlaps, strict=True):  # each lands on a full-resolution face
            assert overlap.max() > 0.7
            assert box.x + box.w <= 1280 and box.y + box.h <= 720


def test_boxes_fall_on_the_pasted_faces():
    detector = FaceDetector(DetectorConfig())
    width, height = 1280, 720
    (x, y, side), = demo.face_layout("one", 0, 10, width, height)
    box, = detector.detect(gray_frames("one", 10, (width, height))[0])
    # the face is the middle half of the pasted patch (demo.PATCH_MARGIN)
    centre_x, centre_y = box.center
    assert abs(centre_x - (x + side / 2)) < side * 0.1
    assert abs(centre_y - (y + side / 2)) < side * 0.15
    assert 0.35 * side < box.w < 0.7 * side
    assert detector.detect(gray_frames("none", 1, (width, height))[0]) == []


def test_largest_face_first_and_crops_at_model_size():
    detector = FaceDetector(DetectorConfig())
    gray = gray_frames("two", 5, (640, 480))[2]
    boxes = detector.detect(gray)
    assert [b.area for b in boxes] == sorted((b.area for b in boxes), reverse=True)
    crops = crop_faces(gray, boxes, (48, 48))
    assert crops.shape == (2, 48, 48) and crops.dtype == np.uint8
    expected = cv2.resize(gray[boxes[0].y:boxes[0].y + boxes[0].h, boxes[0].x:boxes[0].x + boxes[0].w], (48, 48),
                          interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(crops[0], expected)


def test_cascade_lookup(tmp_path):
    assert find_cascade("haarcascade_frontalface_default.xml").parent.name == "haarcascade_files"
    with pytest.raises(DetectorError, match="nope.xml not found"):
        FaceDetector(DetectorConfig(cascade="nope.xml"))
    bogus = tmp_path / "bogus.xml"
    bogus.write_text("<opencv_storage></opencv_storage>")
    with pytest.raises(DetectorError, match="could not be loaded"):
        FaceDetector(DetectorConfig(cascade=str(bogus)))
