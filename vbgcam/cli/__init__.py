"""The ``vbgcam`` command: ``app`` (run, render, calibrate, devices, doctor, eval, bench)
and ``models`` (``vbgcam models``). ``vbgcam ctl`` lives with the control server
(``vbgcam.control.client``)."""
