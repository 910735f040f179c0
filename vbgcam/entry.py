"""The ``vbgcam`` command. ``vbgcam ctl ...`` goes straight to the small HTTP client, which
needs only the standard library and typer; everything else loads the whole program. (Through
the full CLI, a one-line ``vbgcam ctl pause`` paid 0.27 s and 71 MB for OpenCV and numpy.)"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["ctl"]:
        from vbgcam.control.client import ctl_app

        ctl_app(args=sys.argv[2:], prog_name="vbgcam ctl")
        return
    from vbgcam.cli.app import app

    app()


if __name__ == "__main__":
    main()
