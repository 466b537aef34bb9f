"""The ``xner`` command line: ``xner run <stage> --pair SRC-TGT [-p name=value …]``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from xner import config
from xner.config import ConfigError, pairs
from xner.data import DataNotFoundError, check_data_source, check_pairs_data
from xner.report import build_report
from xner.runs import StageFailed, run_stage


def _parse_param(text: str) -> tuple[str, Any]:
    """Parse ``-p name=value``; the value is YAML (a bad one is an argparse error naming the parameter)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"-p {text!r}: expected name=value")
    name, value = text.split("=", 1)
    if not name.strip():
        raise argparse.ArgumentTypeError(f"-p {text!r}: the parameter name is empty; expected name=value")
    try:
        return name.strip(), yaml.safe_load(value)
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise argparse.ArgumentTypeError(
            f"-p {text!r}: the value of {name.strip()!r} is not valid YAML ({detail}); quote it as a string, "
            "e.g. -p 'name=\"text\"', or write a list as [a, b]"
        ) from None


def _check_pairs(config_file: str | None, names: Sequence[str]) -> list[Any]:
    """The pairs ``check-data`` checks: ``--pair`` names, else a workflow config's ``pairs:``, else all configured."""
    if config_file:
        from pathlib import Path

        path = Path(config_file)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise config.ConfigError(f"{path}: cannot read the workflow config: {exc}") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("pairs"), list):
            raise config.ConfigError(f"{path}: expected a top-level 'pairs:' list such as [id-ms, nl-af]")
        names = [*names, *map(str, raw["pairs"])]
    if names:
        return [config.parse_pair(n) for n in dict.fromkeys(names)]
    return config.pairs()


def _check_data(config_file: str | None, names: Sequence[str]) -> int:
    """``xner check-data``: the data source, then where every split the pairs need comes from."""
    try:
        print("xner: data from", check_data_source())
        lines, problems = check_pairs_data(_check_pairs(config_file, names))
    except (DataNotFoundError, ConfigError, ValueError) as exc:
        print(f"xner: no data. {exc}", file=sys.stderr)
        return 2
    for line in lines:
        print("  " + line)
    for problem in problems:
        print(f"xner: {problem}", file=sys.stderr)
    return 2 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xner`` command."""
    # The command is headless: figures are drawn to files (Agg) unless MPLBACKEND says otherwise. Notebook
    # kernels started by `xner run` get the inline backend instead (xner.runs), so their figures are captured.
    os.environ.setdefault("MPLBACKEND", "agg")
    parser = argparse.ArgumentParser(prog="xner", description="Cross-lingual NER robustness compendium.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute a stage's notebook headlessly with papermill")
    run.add_argument(
        "stage",
        help="01..08 or a name: inspection, divergence, projection, training, adversarial, figures, methods, dial",
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
    rep.add_argument(
        "--figures",
        help="figures root (default: $XNER_FIGURES_DIR, else <results>/figures when the results root "
        "is moved, else <repo>/figures)",
    )
    rep.add_argument("--out", help="output file (default: <results>/index.html)")
    chk = sub.add_parser(
        "check-data",
        help="say where every split the pairs need comes from (XNER_DATA_DIR, cache, hub); "
        "fail at once when one has no source",
    )
    chk.add_argument("--config", help="a workflow config (e.g. configs/offline.yaml): check its pairs")
    chk.add_argument("--pair", action="append", default=[], help="check this pair (repeatable); default: all")
    args = parser.parse_args(argv)

    if args.command == "pairs":
        for p in pairs():
            print(f"{p.name}\t{p.group}\t{'hub' if p.needs_hub else 'local'}\t{p.why}")
        return 0
    if args.command == "report":
        print(
            build_report(
                args.results or config.results_dir(), args.figures or config.figures_dir(args.results), args.out
            )
        )
        return 0
    if args.command == "check-data":
        return _check_data(args.config, args.pair)
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
