"""Which output of ``tfjs_onnx`` the cached ``rvm.onnx`` must come from.

Kept apart from the converter so that checking a cached conversion at every start does not
load the ``onnx`` package (0.6 s of CPU here); bump it whenever the converter's output
changes (2: the "Speed" rewrites; 3: nodes named after their TF nodes), and cached models
are converted again.
"""

CONVERTER_VERSION = 3
