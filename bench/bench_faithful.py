"""The methods as published (issue 20), measured on one pair, id → ms (e5-small), stage by stage.

Stages (each writes ``results/faithful/<stage>.json``; ``--render`` writes the RESULTS.md section from whatever
stages have finished):

* ``p2`` — P2 context replacement as published vs this project's earlier variant (``context_band``) on the ms
  test set: eligible words, tokens touched, share of touched tokens that are stopwords;
* ``distill`` — the ``direct`` teacher (id, 2,000 sentences, 1 epoch) and the student with the reference budget
  (3 epochs over all ms train text, batch 32, embeddings + bottom 3 layers frozen): clean F1 of both, and both
  under P2 and ``context_band``; plus multi-source weights (id + nl → ms) with the data temperature vs τ = 0.01;
* ``madx`` — language adapters (id, ms; LoRA r=40 on the FFN; text capped by ``--mlm-sentences``) with held-out
  MLM loss before / after / adapter off, and the MAD-X model on ms test with the ms adapter vs the id adapter.

    XNER_DATA_DIR=../shared/data .venv/bin/python bench/bench_faithful.py --stage p2 distill madx --render
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from _results import write_section  # noqa: E402  (bench/ is on sys.path when a script runs)

from xner.config import results_dir
from xner.data import load_split, tag_names
from xner.metrics import bootstrap_ci, paired_bootstrap

SECTION = "## The methods as published (issue 20): P2, distillation budget, MAD-X adapters (id → ms)"
OUT = Path(results_dir()) / "faithful"
STAGES = ("p2", "distill", "madx")
MODELS = Path(results_dir()) / "models" / "faithful"


def _save(stage: str, data: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{stage}.json").write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def _test(n: int | None):
    test = load_split("ms", "test")
    return test.select(range(min(n, len(test)))) if n else test


def _ctx():
    from xner.robustness.perturb import PerturbationContext

    return PerturbationContext(
        lang="ms",
        source_lang="id",
        source_train=load_split("id", "train"),
        target_train=load_split("ms", "train"),
        encoder="e5-small",
    )


def stage_p2(n: int | None) -> dict:
    """Eligible and touched tokens of P2 and context_band on the ms test set, and their stopword share."""
    from xner.robustness.perturb import build
    from xner.robustness.perturb.context import stopwords_for

    test, stop = _test(n), stopwords_for("ms")
    toks, tags = [list(t) for t in test["tokens"]], tag_names(test)
    out = {}
    for name in ("context_replacement", "context_band"):
        res = build(name, _ctx()).apply_lists(toks, tags, 0, lang="ms")
        changed = [a for s, p in zip(toks, res.tokens, strict=True) for a, b in zip(s, p, strict=True) if a != b]
        out[name] = {
            "tokens": sum(len(t) for t in toks),
            "touched": res.report.tokens_touched,
            "touched_stopwords": sum(w.lower() in stop for w in changed),
            "ops": dict(res.report.ops),
            "skipped": dict(res.report.skipped),
            "examples": [
                (a, b) for s, p in zip(toks, res.tokens, strict=True) for a, b in zip(s, p, strict=True) if a != b
            ][:12],
        }
    return out


def _f1s(pred_of: dict, test, perturbed: dict) -> dict:
    gold, toks = tag_names(test), [list(t) for t in test["tokens"]]
    rows = {}
    for name, pred in pred_of.items():
        p = pred.predict(toks)
        ci = bootstrap_ci(gold, p, seed=0)
        row = {"clean": [ci.point, ci.low, ci.high], "pred": p}
        for pname, (ptoks, ptags) in perturbed.items():
            pci = bootstrap_ci(ptags, pred.predict(ptoks), seed=0)
            row[pname] = [pci.point, pci.low, pci.high]
        rows[name] = row
    return rows


def stage_distill(n: int | None, threads: int | None = None, max_unlabeled: int | None = None) -> dict:
    """Teacher (direct id) vs student (reference budget) on ms test, clean and under P2 / context_band.

    ``max_unlabeled`` caps the student's target text (timing runs only: the reference budget is all of it)."""
    from xner.methods import MethodConfig, train_method
    from xner.methods.distill import source_weights
    from xner.modeling.encoders import resolve_encoder
    from xner.robustness.perturb import build

    test = _test(n)
    t0 = time.perf_counter()
    teacher = train_method(MethodConfig("direct", "ms", ("id",), num_threads=threads), MODELS, log=print)
    student = train_method(
        MethodConfig("distill", "ms", ("id",), max_unlabeled=max_unlabeled, num_threads=threads), MODELS, log=print
    )
    seconds = time.perf_counter() - t0
    toks, tags = [list(t) for t in test["tokens"]], tag_names(test)
    perturbed = {}
    for name in ("context_replacement", "context_band"):
        r = build(name, _ctx()).apply_lists(toks, tags, 0, lang="ms")
        perturbed[name] = (r.tokens, r.tags)
    rows = _f1s(
        {"teacher (direct id)": teacher.spec.predictor, "student (distill)": student.spec.predictor}, test, perturbed
    )
    gold = tag_names(test)
    pb = paired_bootstrap(gold, rows["student (distill)"].pop("pred"), rows["teacher (direct id)"].pop("pred"), seed=0)
    enc = resolve_encoder("e5-small")
    texts = {s: [list(t) for t in load_split(s, "train")["tokens"]] for s in ("id", "nl")}
    target = [list(t) for t in load_split("ms", "train")["tokens"]]
    weights = {
        str(tau): [w.__dict__ for w in source_weights(texts, target, encoder=enc, temperature=tau)]
        for tau in ("data", 0.01)
    }
    return {
        "rows": rows,
        "student_minus_teacher": [pb.delta, pb.low, pb.high, pb.p_value],
        "student_info": {k: student.info.get(k) for k in ("train_seconds", "history")},
        "teacher_seconds": teacher.info.get("train_seconds"),
        "student_stats": json.loads((student.path / "xner_model.json").read_text(encoding="utf-8")).get("stats"),
        "max_unlabeled": max_unlabeled,
        "seconds": seconds,
        "weights": weights,
    }


def stage_madx(n: int | None, mlm_sentences: int, threads: int | None = None) -> dict:
    """Language adapters' held-out MLM loss, and MAD-X on ms test with the ms vs the id language adapter."""
    from xner.methods import MethodConfig, train_method
    from xner.methods.adapters import MLMConfig, swap_language

    test = _test(n)
    mlm = MLMConfig(max_sentences=mlm_sentences, progress=False)
    tm = train_method(MethodConfig("madx", "ms", ("id",), mlm=mlm, num_threads=threads), MODELS, log=print)
    adapters = {}
    for lang, path in tm.info.get("language_adapters", {}).items():
        info = json.loads((Path(path) / "language_adapter.json").read_text(encoding="utf-8"))
        adapters[lang] = {k: v for k, v in info.items() if k not in ("history", "lora", "mlm")}
    pred = tm.spec.predictor
    gold, toks = tag_names(test), [list(t) for t in test["tokens"]]
    swap_language(pred, "ms")
    p_ms = pred.predict(toks)
    swap_language(pred, "id")
    p_id = pred.predict(toks)
    swap_language(pred, "ms")
    ci_ms, ci_id = bootstrap_ci(gold, p_ms, seed=0), bootstrap_ci(gold, p_id, seed=0)
    pb = paired_bootstrap(gold, p_ms, p_id, seed=0)
    return {
        "adapters": adapters,
        "ms_adapter": [ci_ms.point, ci_ms.low, ci_ms.high],
        "id_adapter": [ci_id.point, ci_id.low, ci_id.high],
        "ms_minus_id": [pb.delta, pb.low, pb.high, pb.p_value],
        "mlm_sentences": mlm_sentences,
        "train_seconds": tm.info.get("train_seconds"),
    }


def _verdict(dd: list, better: str, worse: str, same: str) -> str:
    """Which way a paired difference ``[delta, low, high, p]`` goes: its CI above 0, below 0, or across 0."""
    return better if dd[1] > 0 else worse if dd[2] < 0 else same


def _distill_finding(d: dict) -> str:
    """The student-vs-teacher result in words, from the distill stage's JSON."""
    dd = d["student_minus_teacher"]
    t, s = d["rows"]["teacher (direct id)"], d["rows"]["student (distill)"]
    drops = "; ".join(
        f"{p}: teacher {t['clean'][0] - t[p][0]:+.3f}, student {s['clean'][0] - s[p][0]:+.3f}"
        for p in ("context_replacement", "context_band")
    )
    return (
        "**Finding: "
        + _verdict(
            dd,
            "the student beats its teacher, as Wu et al. report",
            "the student stays below its teacher even with the reference budget — the opposite of Wu et al.'s finding",
            "student and teacher are not significantly different (the CI of the difference crosses 0)",
        )
        + f"** (student − teacher {dd[0]:+.3f} [{dd[1]:+.3f}, {dd[2]:+.3f}], paired bootstrap over ms test sentences). "
        f"F1 drops (clean − perturbed): {drops}."
    )


def _madx_finding(m: dict) -> str:
    """The MAD-X swap result in words, from the madx stage's JSON."""
    dd = m["ms_minus_id"]
    return (
        "**Finding: "
        + _verdict(
            dd,
            "swapping in the target (ms) language adapter helps: it beats keeping the source (id) adapter",
            "the target (ms) language adapter is worse than keeping the source (id) adapter",
            "the swap does not matter here: target and source adapter are not significantly different",
        )
        + f"** ({dd[0]:+.3f} [{dd[1]:+.3f}, {dd[2]:+.3f}])."
    )


def _ci(x: list) -> str:
    return f"**{x[0]:.3f}** [{x[1]:.3f}, {x[2]:.3f}]"


def render(load: float, args) -> str:
    """The RESULTS.md section from the stages that have finished."""
    lines = [
        SECTION,
        "",
        "Issue 20. Commands (`XNER_DATA_DIR=../shared/data .venv/bin/python bench/...`, seed 0, one seed, one pair; "
        "`--render` writes this section): "
        + "; ".join(
            dict.fromkeys(
                f"`{json.loads((OUT / f'{s}.json').read_text()).get('command', '?')}`"
                for s in STAGES
                if (OUT / f"{s}.json").is_file()
            )
        ),
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, CPU only; load average {load:.1f} "
        "(the cores were shared with other jobs: times are upper bounds).",
        "",
    ]
    f = {
        s: json.loads((OUT / f"{s}.json").read_text())
        for s in ("p2", "distill", "madx")
        if (OUT / f"{s}.json").is_file()
    }
    if "p2" in f:
        lines += [
            "P2 as published vs this project's earlier variant, ms test (source id):",
            "",
            "| perturbation | tokens | touched | of which stopwords | eligible / candidates |",
            "|---|---|---|---|---|",
        ]
        for name, r in ((k, v) for k, v in f["p2"].items() if isinstance(v, dict)):
            el = r["ops"].get("eligible", r["ops"].get("eligible_types"))
            lines.append(
                f"| {name} | {r['tokens']} | {r['touched']} | {r['touched_stopwords']} | {el} / "
                f"{r['ops'].get('candidate_types', '—')} |"
            )
        lines += ["", "(`context_replacement` counts eligible word *types*; `context_band` eligible tokens.)", ""]
    if "distill" in f:
        d = f["distill"]
        lines += [
            "Teacher vs student (reference budget), ms test, strict F1 [95 % CI]:",
            "",
            "| model | clean | P2 (context_replacement) | context_band |",
            "|---|---|---|---|",
        ]
        for name, r in d["rows"].items():
            lines.append(f"| {name} | {_ci(r['clean'])} | {_ci(r['context_replacement'])} | {_ci(r['context_band'])} |")
        dd, st = d["student_minus_teacher"], d.get("student_stats") or {}
        lines += [
            "",
            f"Student: {st.get('epochs', '?')} epochs over {st.get('n_target_sentences', '?')} unlabelled ms train "
            f"sentences, batch {st.get('batch_size', '?')}, embeddings + bottom 3 layers frozen "
            f"({st.get('frozen_parameters', 0):,} parameters, most of them the word embeddings), MSE on the "
            "teacher's probabilities; trained in "
            f"{(d.get('student_info') or {}).get('train_seconds') or 0:.0f} s (teacher: id, 2,000 sentences, 1 epoch, "
            f"{d.get('teacher_seconds') or 0:.0f} s), {d.get('threads') or 'all'} torch thread(s); ms test"
            f"{' (first ' + str(d['n_test']) + ' sentences)' if d.get('n_test') else ', all 500 sentences'}.",
            "",
            f"Student − teacher (clean): {dd[0]:+.3f} [{dd[1]:+.3f}, {dd[2]:+.3f}], p = {dd[3]:.3f}. "
            'Before ("Methods under attack" above: id + nl teachers, τ = 0.01, 2 epochs over 1,000 ms sentences, '
            "batch 16, only the word embeddings frozen): student 0.733 vs the direct id model 0.772 on the first 300 "
            "ms test sentences.",
            "",
            _distill_finding(d),
            "",
            "Multi-source weights id + nl → ms:",
            "",
            "| τ | id | nl | τ value |",
            "|---|---|---|---|",
        ]
        for tau, ws in d["weights"].items():
            w = {x["source"]: x["weight"] for x in ws}
            lines.append(f"| {tau} | {w['id']:.3f} | {w['nl']:.3f} | {ws[0]['temperature']:.4g} |")
        lines.append("")
    if "madx" in f:
        m = f["madx"]
        lines += [
            f"MAD-X language adapters (LoRA r=40 on the FFN; first {m['mlm_sentences']} sentences of train+dev "
            "text, 1 epoch, lr 1e-3; held-out = last 200 dev sentences):",
            "",
            "| language | adapter parameters | steps | held-out MLM loss before | after | after, adapter off | s |",
            "|---|---|---|---|---|---|---|",
        ]
        for lang, a in m["adapters"].items():
            lines.append(
                f"| {lang} | {a['adapter_parameters']:,} | {a['steps']} | {a['heldout_mlm_loss_before']:.3f} | "
                f"{a['heldout_mlm_loss_after']:.3f} | {a['heldout_mlm_loss_after_adapter_off']:.3f} | "
                f"{a.get('seconds', 0):.0f} |"
            )
        dd = m["ms_minus_id"]
        lines += [
            "",
            f"MAD-X on ms test with the ms adapter {_ci(m['ms_adapter'])} vs with the id (source) adapter "
            f"{_ci(m['id_adapter'])}; difference {dd[0]:+.3f} [{dd[1]:+.3f}, {dd[2]:+.3f}], p = {dd[3]:.3f}.",
            "",
            _madx_finding(m),
            "",
        ]
    if "madx" not in f:
        done = sorted(MODELS.glob("lang-adapter-*/language_adapter.json"))
        if done:
            lines += [
                "MAD-X language adapters trained so far (the MAD-X stage itself did not finish):",
                "",
                "| language | sentences | adapter parameters | steps | held-out MLM loss before | after | "
                "after, adapter off |",
                "|---|---|---|---|---|---|---|",
            ]
            for j in done:
                a = json.loads(j.read_text(encoding="utf-8"))
                lines.append(
                    f"| {a['language']} | {a['n_sentences']} | {a['adapter_parameters']:,} | {a['steps']} | "
                    f"{a['heldout_mlm_loss_before']:.3f} | {a['heldout_mlm_loss_after']:.3f} | "
                    f"{a['heldout_mlm_loss_after_adapter_off']:.3f} |"
                )
            lines += [
                "",
                "From an interrupted `--stage madx` run (settings in each adapter's `language_adapter.json`: LoRA r 40 "
                "on the FFN projections, first N sentences of train + dev text, 1 epoch, batch 32, lr 1e-3; held-out "
                '= the last 200 dev sentences, fixed masks). "before" is the loss of a fresh MLM head (the e5 '
                'checkpoint has none); "adapter off" is the trained head without the adapter, so after − adapter '
                "off is what the language adapter itself adds.",
                "",
            ]
    missing = [s for s in STAGES if s not in f]
    if missing:
        lines += [
            f"Not measured yet: stage(s) {', '.join(missing)} (run `bench_faithful.py --stage {' '.join(missing)} "
            "--render`).",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    """Run the stages asked for; with ``--render`` write the section."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", nargs="*", default=[], choices=["p2", "distill", "madx"])
    ap.add_argument("--n-test", type=int, default=None, help="ms test sentences (default: all)")
    ap.add_argument("--mlm-sentences", type=int, default=4000)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all the process may use)")
    ap.add_argument(
        "--max-unlabeled", type=int, default=None, help="cap the student's ms text (timing runs; default: all)"
    )
    ap.add_argument("--render", action="store_true")
    args = ap.parse_args()
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    for stage in args.stage:
        t0 = time.perf_counter()
        data = {
            "p2": lambda: stage_p2(args.n_test),
            "distill": lambda: stage_distill(args.n_test, args.threads, args.max_unlabeled),
            "madx": lambda: stage_madx(args.n_test, args.mlm_sentences, args.threads),
        }[stage]()
        data["stage_seconds"] = time.perf_counter() - t0
        data["load_before_after"] = [load, os.getloadavg()[0]]
        data.update(threads=args.threads, n_test=args.n_test)
        data["command"] = "bench_faithful.py " + " ".join(sys.argv[1:])
        _save(stage, data)
        print(f"{stage} done in {data['stage_seconds']:.0f} s", flush=True)
    if args.render:
        text = render(load, args)
        print(text)
        write_section(text)


if __name__ == "__main__":
    main()
