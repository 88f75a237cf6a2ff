"""Shared argument parsing for the thin stage CLIs in pipelines/."""

from __future__ import annotations

import argparse
import logging

from avsal.cli import parse_overrides
from avsal.config import Config, load_config


def stage_args(description: str) -> tuple[argparse.ArgumentParser, argparse.Namespace, Config]:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    parser.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE", help="override a param")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return parser, args, load_config(args.params, parse_overrides(args.set))
