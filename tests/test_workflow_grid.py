"""The main job's grid as Snakemake plans it (a dry run): every pair, and the zero-shot seed replicates."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from xner.config import repo_root


def _plan(tmp_path: Path, config: Path | list[Path], *targets: str) -> str:
    bin_dir = Path(sys.executable).parent
    cmd = [str(bin_dir / "snakemake"), "-n", "-p", "-s", str(repo_root() / "workflow" / "Snakefile")]
    configs = config if isinstance(config, list) else [config]
    cmd += ["--configfile", *map(str, configs), "--directory", str(tmp_path), "--cores", "2", *targets]
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_offline_grid_trains_every_pair_and_replicates_zero_shot_seeds(tmp_path):
    cfg = yaml.safe_load((repo_root() / "configs" / "offline.yaml").read_text())
    pairs, extra = cfg["pairs"], cfg["seed_replicates"]["seeds"]
    replicated = cfg["seed_replicates"]["pairs"] or pairs
    plan = _plan(tmp_path, repo_root() / "configs" / "offline.yaml")
    runs = re.findall(r"xner run 04 --pair (\S+) --variant (\S+) .*", plan)
    assert len(runs) == len(pairs) + len(extra) * len(replicated)
    assert {p for p, v in runs if v != "e5-small-s0"} == set(replicated)
    for line in re.findall(r"xner run 04 .*", plan):
        seed = int(re.search(r"-p seed=(\d+)", line).group(1))
        replicate = "-p 'setting=[zero-shot]' -p include_crf=false" in line
        assert replicate == (seed in extra), line  # replicates retrain the zero-shot encoder only
    # stage 05 runs on the main seeds only
    assert {v for _, v in re.findall(r"xner run 05 --pair (\S+) --variant (\S+)", plan)} == {"e5-small-s0"}


def test_replicates_can_be_limited_to_some_pairs(tmp_path):
    cfg = yaml.safe_load((repo_root() / "configs" / "offline.yaml").read_text())
    cfg["seed_replicates"] = {"seeds": [1, 2, 3], "pairs": ["id-ms", "ar-fa"]}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    runs = re.findall(r"xner run 04 --pair (\S+) --variant (\S+)", _plan(tmp_path, path))
    replicated = sorted(p for p, v in runs if v != "e5-small-s0")
    assert replicated == ["ar-fa"] * 3 + ["id-ms"] * 3


def test_datatransfer_target_runs_one_comparison_per_pair_then_the_summary(tmp_path):
    cfg = yaml.safe_load((repo_root() / "configs" / "datatransfer.yaml").read_text())["datatransfer"]
    configs = [repo_root() / "configs" / "offline.yaml", repo_root() / "configs" / "datatransfer.yaml"]
    plan = _plan(tmp_path, configs, "datatransfer")
    jobs = re.findall(r"python -m xner\.projection\.compare --pair (\S+) --out (\S+) (.*?) 2>&1", plan)
    assert sorted(p for p, _, _ in jobs) == sorted(cfg["pairs"])  # one job per pair, en-es-conll included
    for _, out, args in jobs:
        assert out == "results/datatransfer"
        assert f"--models {' '.join(cfg['compare']['models'])} " in args + " "
        assert f"--seeds {' '.join(map(str, cfg['compare']['seeds']))} " in args + " "
        assert "--n-test" not in args  # null: the runner's default (the whole test split)
    summary = re.findall(r"python -m xner\.projection\.compare --summarise (.*?) --summary (\S+)", plan)
    assert len(summary) == 1 and summary[0][1] == "results/datatransfer/summary.csv"
    assert sorted(summary[0][0].split()) == sorted(f"results/datatransfer/{p}.csv" for p in cfg["pairs"])
    assert "xner run" not in plan  # the main job's stages are not part of this target


def test_full_grid_overlay_replicates_every_pair(tmp_path):
    configs = [repo_root() / "configs" / "offline.yaml", repo_root() / "configs" / "offline_full_grid.yaml"]
    plan = _plan(tmp_path, configs)
    pairs = yaml.safe_load(configs[0].read_text())["pairs"]
    runs = re.findall(r"xner run 04 --pair (\S+) --variant (\S+)", plan)
    assert sorted(p for p, v in runs if v == "e5-small-s2") == sorted(pairs)
    assert "-p 'perturbations=[unseen_entities, context_replacement, foreign_names, typos]'" in plan
    assert "-p max_test_sentences=300" in plan and "-p levels=null" in plan


def test_conll_target_splits_the_studies_into_jobs_then_merges(tmp_path):
    cfg = yaml.safe_load((repo_root() / "configs" / "conll.yaml").read_text())["conll"]
    ts, cd = cfg["teacher_student"], cfg["crossdomain"]
    configs = [repo_root() / "configs" / "offline.yaml", repo_root() / "configs" / "conll.yaml"]
    plan = _plan(tmp_path, configs, "conll")
    seeds = re.findall(r"python -m xner\.methods\.teacher_student --seeds (\d+) --threads 1 .*", plan)
    assert sorted(map(int, seeds)) == sorted(ts["seeds"])  # one job per seed, one thread each (encoder_threads)
    for line in re.findall(r"python -m xner\.methods\.teacher_student --seeds .*", plan):
        assert "--recipe offline" in line and "--figures-dir ''" in line and "--max-train-samples" not in line
        for name in ("teacher_learning_rate", "teacher_epochs"):  # a mapping becomes LANG=VALUE items
            for lang, value in (ts.get(name) or {}).items():
                assert re.search(rf"--{name.replace('_', '-')} (\S+ )*{lang}={value}(\s|$)", line)
    merge = re.findall(r"teacher_student --merge (.*?) --results-dir (\S+) --figures-dir (\S+)", plan)
    assert len(merge) == 1 and merge[0][1:] == ("results/conll/teacher_student", "figures/paper")
    assert len(merge[0][0].split()) == len(ts["seeds"])
    cells = re.findall(
        r"crossdomain --encoders (\S+) --train-domains (\S+) --seeds (\d+) --threads 1 .*--max-train-samples 5000",
        plan,
    )
    want = {(e, d, str(s)) for e in cd["encoders"] for d in cd["train_domains"] for s in cd["seeds"]}
    assert set(cells) == want and len(cells) == len(want)
    # each mini encoder is pretrained once, by a job of its own, before its cells
    pretrained = re.findall(r"crossdomain --pretrain-only --encoders (\S+)", plan)
    assert sorted(pretrained) == sorted(e for e in cd["encoders"] if e.startswith("mini-"))
    assert re.search(r"crossdomain --merge .* --figures-dir figures/paper", plan)
    assert "xner run" not in plan
