"""The ``xner`` command line: ``xner run <stage> --pair SRC-TGT [-p name=value …]``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

import yaml


def _parse_param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"-p {text!r}: expected name=value")
    name, value = text.split("=", 1)
    return name.strip(), yaml.safe_load(value)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xner`` command."""
    # The command is headless: figures are drawn to files (Agg) unless MPLBACKEND says otherwise. Notebook
    # kernels started by `xner run` get the inline backend instead (xner.runs), so their figures are captured.
    os.environ.setdefault("MPLBACKEND", "agg")
    parser = argparse.ArgumentParser(prog="xner", description="Cross-lingual NER robustness compendium.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute a stage's notebook headlessly with papermill")
    run.add_argument(
        "stage", help="01..06 or a name: inspection, divergence, projection, training, adversarial, figures"
    )
    run.add_argument("--pair", help="source-target pair, e.g. id-ms")
    run.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        type=_parse_param,
        metavar="NAME=VALUE",
        help="notebook parameter (value parsed as YAML: 3, 0.5, [a, b], true)",
    )
    run.add_argument("--results", help="results root (default: $XNER_RESULTS_DIR or <repo>/results)")
    run.add_argument("--variant", help="name of one grid cell (e.g. e5-small-s0): output <stage>--<variant>.ipynb")
    run.add_argument("--no-html", action="store_true", help="skip the HTML rendering")
    sub.add_parser("pairs", help="list the configured pairs")
    rep = sub.add_parser("report", help="write an HTML index of the executed notebooks, tables and figures")
    rep.add_argument("--results", help="results root (default: $XNER_RESULTS_DIR or <repo>/results)")
    rep.add_argument("--figures", help="figures root (default: $XNER_FIGURES_DIR or <repo>/figures)")
    rep.add_argument("--out", help="output file (default: <results>/index.html)")
    sub.add_parser(
        "check-data", help="say where data comes from (XNER_DATA_DIR, else the hub); fail at once with neither"
    )
    args = parser.parse_args(argv)

    if args.command == "pairs":
        from xner.config import pairs

        for p in pairs():
            print(f"{p.name}\t{p.group}\t{'hub' if p.needs_hub else 'local'}\t{p.why}")
        return 0
    if args.command == "report":
        from xner import config
        from xner.report import build_report

        print(build_report(args.results or config.results_dir(), args.figures or config.figures_dir(), args.out))
        return 0
    if args.command == "check-data":
        from xner.data import DataNotFoundError, check_data_source

        try:
            print("xner: data from", check_data_source())
        except (DataNotFoundError, ValueError) as exc:
            print(f"xner: no data. {exc}", file=sys.stderr)
            return 2
        return 0
    from xner.runs import StageFailed, run_stage

    try:
        out = run_stage(
            args.stage,
            pair=args.pair,
            parameters=dict(args.param),
            results_root=args.results,
            html=not args.no_html,
            variant=args.variant,
        )
    except (StageFailed, ValueError, FileNotFoundError) as exc:
        print(f"xner run: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
