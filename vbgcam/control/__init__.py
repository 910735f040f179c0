"""Control of a running vbgcam: the local HTTP server and its page (``server``, ``api``,
``static/``), the token file that says where it listens (``token``), and the command-line
client ``vbgcam ctl`` (``client``), which needs only the standard library and typer."""
