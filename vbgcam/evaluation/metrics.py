"""Mask quality scores: pure functions of numpy arrays, no state, no I/O.

Binary masks are boolean arrays (True = person), of equal shape; soft masks are uint8 0..255
(255 = person). A prediction is binarised at >= 128 before ``iou`` and ``boundary_f``.

    >>> import numpy as np
    >>> truth = np.array([[0, 1, 1, 0]], bool)
    >>> iou(np.array([[0, 1, 0, 0]], bool), truth)
    0.5
"""

from __future__ import annotations

import cv2
import numpy as np


def _same_shape(first: np.ndarray, second: np.ndarray) -> None:
    if first.shape != second.shape:
        raise ValueError(f"mask shapes differ: {first.shape} and {second.shape}")


def binarize(mask: np.ndarray) -> np.ndarray:
    """A soft uint8 mask as booleans: True where >= 128 (half cover or more)."""
    return np.asarray(mask) >= 128


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two boolean masks, in [0, 1].

    Two empty masks agree perfectly: 1.0 (an empty frame correctly left empty).
    """
    _same_shape(pred, truth)
    pred = np.asarray(pred, bool)
    truth = np.asarray(truth, bool)
    union = np.count_nonzero(pred | truth)
    if union == 0:
        return 1.0
    return float(np.count_nonzero(pred & truth) / union)


def boundary(mask: np.ndarray) -> np.ndarray:
    """The mask's boundary pixels (boolean): mask pixels with a 4-neighbour outside the mask.

    The image border is not a boundary: a person cut by the frame edge has no edge there.
    """
    mask_u8 = np.asarray(mask, bool).astype(np.uint8)
    # erode's default border value is the maximum, so the frame edge does not erode the mask
    eroded = cv2.erode(mask_u8, cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)))
    return (mask_u8 - eroded).astype(bool)


def _within(points: np.ndarray, target: np.ndarray, tolerance_px: float) -> int:
    """How many ``points`` lie within ``tolerance_px`` (Euclidean) of a ``target`` pixel."""
    # distanceTransform measures the distance to the nearest zero, so targets are the zeros
    distance = cv2.distanceTransform(
        np.where(target, 0, 1).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE
    )
    return int(np.count_nonzero(distance[points] <= tolerance_px))


def boundary_f(pred: np.ndarray, truth: np.ndarray, tolerance_px: float = 2) -> float:
    """Boundary F-measure of two boolean masks, in [0, 1] (as in the DAVIS benchmark).

    Precision: the share of predicted boundary pixels within ``tolerance_px`` of a true
    boundary pixel; recall: the share of true boundary pixels within it of a predicted one;
    F is their harmonic mean. The tolerance forgives the machine-made truth's edge error
    (hair, fingers). Both boundaries empty gives 1.0, exactly one empty gives 0.0.
    """
    _same_shape(pred, truth)
    pred_edge = boundary(pred)
    truth_edge = boundary(truth)
    pred_count = np.count_nonzero(pred_edge)
    truth_count = np.count_nonzero(truth_edge)
    if pred_count == 0 and truth_count == 0:
        return 1.0
    if pred_count == 0 or truth_count == 0:
        return 0.0
    precision = _within(pred_edge, truth_edge, tolerance_px) / pred_count
    recall = _within(truth_edge, pred_edge, tolerance_px) / truth_count
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def flicker(prev_mask: np.ndarray, mask: np.ndarray) -> float:
    """How much a soft mask changed between two frames: mean ``|mask - prev| / 255``, in [0, 1].

    Meant for frames where the true mask did not change, so any change is flicker: 0 is a
    steady mask, 1 is every pixel flipping from person to background or back.
    """
    _same_shape(prev_mask, mask)
    if prev_mask.size == 0:
        return 0.0
    change = cv2.absdiff(np.asarray(prev_mask, np.uint8), np.asarray(mask, np.uint8))
    return float(np.mean(change, dtype=np.float64) / 255.0)
