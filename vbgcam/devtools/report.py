"""How every benchmark ends: its data as one JSON document (``--json``, what ``bench_all``
and scripts keep) or as the tables a person reads. Each benchmark only measures
(``collect``) and draws its tables (``print_table``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any


def run(
    parse_args: Callable[[Any], argparse.Namespace],
    collect: Callable[[argparse.Namespace], Any],
    print_table: Callable[[Any, argparse.Namespace], None],
    argv: Sequence[str] | None,
) -> int:
    """Parse ``argv``, measure, and print the data as JSON or as tables; exit status 0."""
    args = parse_args(argv)
    data = collect(args)
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        print()
    else:
        print_table(data, args)
    return 0
