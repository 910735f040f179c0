"""Mask-quality evaluation: how well each segmentation method finds the person.

    metrics.py   pure scores of masks: ``iou``, ``boundary_f``, ``flicker``
    clips.py     webcam-like test clips with exact person masks, built from human-seg photos
    runner.py    runs every method on photos and clips and prints the tables: ``main(argv)``,
                 also ``python -m vbgcam.evaluation.runner``

Needs the human-seg data set (its SOURCE.md gives format and licence) outside the repository:
``$VBGCAM_DATA`` or ``--data``, default ``../shared/data`` next to the repository root. It is
never copied in; without it the evaluation says so and exits 0.
"""
