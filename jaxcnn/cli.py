"""The ``jaxcnn`` command line: ``detect``, ``embed`` and ``verify``.

Each subcommand lives in its own module under ``jaxcnn.commands`` and exposes
``add_parser(subparsers)`` and ``run(args) -> int``. The CLI (not the library)
logs and prints.
"""

import argparse
import importlib
import logging
import sys

_COMMANDS = ("detect", "embed", "verify")


def build_parser() -> argparse.ArgumentParser:
    """Builds the top-level parser with one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="jaxcnn", description="CNNs as pure JAX functions."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMANDS:
        module = importlib.import_module(f"jaxcnn.commands.{name}")
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the CLI and returns the process exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
