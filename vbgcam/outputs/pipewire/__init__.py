""" "VBG Camera" as a user-space PipeWire camera: ``info`` asks what the user's PipeWire offers,
``producer`` runs the gst-launch child that publishes the node, ``links`` asks PipeWire who
reads it, and ``camera`` is the pyvirtualcam backend that ties them together."""
