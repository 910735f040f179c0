"""The live path, in the order a frame takes it.

``capture`` (camera reader thread into the ``ringbuffer``), the compose loop and its wiring
(``wiring``: ``Pipeline``), ``sender`` (frames to the outputs at the camera's rate), ``cards``
(the pictures shown while paused), ``live`` (settings changed while running), ``on_demand``
(releasing the camera while no app watches), and ``render`` (the same stages over a file, as
fast as the machine allows).
"""
