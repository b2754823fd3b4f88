"""`python -m train.tracking replay PATH [--tracking-uri URI] [--timeout S]`"""

import argparse
import sys

from train.tracking.replaying import replay


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.tracking",
        description="Send tracking calls a training run could not deliver (its outbox journal).")
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("replay", help="deliver the pending calls of one or more journals")
    cmd.add_argument("path", help="journal.jsonl, its folder, or an outbox folder of runs")
    cmd.add_argument("--tracking-uri", default=None,
                     help="where to send them (default: the URI recorded in the journal)")
    cmd.add_argument("--timeout", type=float, default=60.0,
                     help="seconds to keep retrying while the server does not answer")
    args = parser.parse_args(argv)
    try:
        return 0 if replay(args.path, args.tracking_uri, args.timeout) else 1
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
