# Helpers of the workflow's rules (included first by workflow/Snakefile; they read its config globals).

import shlex
from pathlib import Path

import yaml


def _fill(value, fmt):
    """Format every string inside a (nested) config value with the job's wildcards."""
    if isinstance(value, str):
        return value.format(**fmt)
    if isinstance(value, dict):
        return {_fill(k, fmt): _fill(v, fmt) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, fmt) for v in value]
    return value


def params_for(stage, **wc):
    """The `-p name=value` arguments of a stage from the config, formatted with {R}, {F}, {pair}, {src}, {tgt},
    {model} and {seed} of the job."""
    fmt = dict(R=R, F=F, **wc)
    if "pair" in wc:
        fmt["src"], fmt["tgt"] = wc["pair"].split("-")
    out = []
    for name, value in (STAGE_PARAMS.get(stage) or {}).items():
        text = yaml.safe_dump(_fill(value, fmt), default_flow_style=True, width=10**6).strip()
        value = text.removesuffix("...").strip()  # yaml's end-of-document marker after a bare scalar
        out.append(f"-p {shlex.quote(f'{name}={value}')}")
    return " ".join(out)


def root_of(depth):
    """A params function: the results root, `depth` folders above the job's first output."""
    return lambda wc, output: str(Path(output[0]).parents[depth])


def variants():
    return [f"{m}-s{s}" for m in MODELS for s in SEEDS]


def training_variants(pair):
    """The stage-04 runs of a pair: every model × seed, plus the zero-shot seed replicates of the pair."""
    extra = [f"{m}-s{s}" for m in MODELS for s in REPLICATE_SEEDS] if pair in REPLICATE_PAIRS else []
    return variants() + extra


def replicate_params(seed):
    """The parameters that make a stage-04 run a zero-shot seed replicate (nothing for a seed of SEEDS)."""
    return "" if int(seed) in SEEDS else " -p 'setting=[zero-shot]' -p include_crf=false"


def cli_args(settings):
    """`--name value …` from a settings mapping (None: the runner's own default, so it is left out; a list: its
    values; a mapping: `key=value` items)."""
    out = []
    for name, value in (settings or {}).items():
        if value is None:
            continue
        if isinstance(value, dict):
            value = [f"{k}={v}" for k, v in value.items()]
        values = value if isinstance(value, list) else [value]
        out.append(f"--{name.replace('_', '-')} " + " ".join(shlex.quote(str(v)) for v in values))
    return " ".join(out)
