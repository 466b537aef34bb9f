"""Composition: several perturbations applied one after the other, with one combined report."""

from __future__ import annotations

import random
import warnings
from collections.abc import Sequence
from typing import Any

from xner.robustness.perturb.base import (
    ListResult,
    Perturbation,
    PerturbationReport,
    PerturbationWarning,
    Tags,
    Tokens,
    check_sentence,
)


class Compose(Perturbation):
    """Apply ``steps`` in order with the same seed (each step draws from its own generator, keyed by name).

    The combined report sums the steps' counts (tokens touched, entities replaced, locales, skipped; ``ops``
    keyed ``step:op``), counts sentences touched between the input and the final output, and keeps each
    step's report in ``steps``. If any step cannot be applied the composition is not applied either: the
    combination asked for does not exist, and its result would be mislabelled.
    """

    family = "compose"

    def __init__(self, steps: Sequence[Perturbation], name: str | None = None) -> None:
        if len(steps) < 1:
            raise ValueError("a composition needs at least one step")
        self.steps = list(steps)
        self.name = name or "+".join(s.name for s in self.steps)

    def params(self) -> dict[str, Any]:
        """The steps' names and parameters, in order."""
        return {"steps": [{"name": s.name, **s.params()} for s in self.steps]}

    def perturb_sentence(
        self, tokens: Tokens, tags: Tags, rng: random.Random, report: PerturbationReport
    ) -> tuple[Tokens, Tags]:
        """Not used: a composition runs whole steps (see :meth:`apply_lists`)."""
        raise NotImplementedError("Compose applies whole steps; call apply_lists or apply")

    def apply_lists(
        self, tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], seed: int, *, lang: str | None = None
    ) -> ListResult:
        """Run each step on the previous step's output and merge the reports."""
        cur_tok = [list(t) for t in tokens]
        cur_tag = [list(t) for t in tags]
        report = self.new_report(seed, lang)
        report.n_sentences = len(cur_tok)
        report.n_tokens = sum(len(t) for t in cur_tok)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PerturbationWarning)
            for step in self.steps:
                res = step.apply_lists(cur_tok, cur_tag, seed, lang=lang)
                report.steps.append(res.report)
                if not res.report.applied:
                    report.not_applied(f"step {step.name} not applied: {res.report.reason}")
                    break
                cur_tok, cur_tag = res.tokens, res.tags
                _merge(report, res.report)
        if not report.applied:
            warnings.warn(f"{self.name}: {report.reason}", PerturbationWarning, stacklevel=2)
            return ListResult([list(t) for t in tokens], [list(t) for t in tags], report)
        for i, (a, b) in enumerate(zip(cur_tok, cur_tag, strict=True)):
            check_sentence(a, b, f"{self.name}: output sentence {i}")
        report.sentences_touched = sum(1 for a, b in zip(tokens, cur_tok, strict=True) if list(a) != b)
        return ListResult(cur_tok, cur_tag, report)


def _merge(total: PerturbationReport, part: PerturbationReport) -> None:
    total.tokens_touched += part.tokens_touched
    total.tokens_inserted += part.tokens_inserted
    total.tokens_deleted += part.tokens_deleted
    total.entities_replaced.update(part.entities_replaced)
    total.entities_unavailable.update(part.entities_unavailable)
    total.locales.update(part.locales)
    total.skipped.update({f"{part.perturbation}:{k}": v for k, v in part.skipped.items()})
    total.ops.update({f"{part.perturbation}:{k}": v for k, v in part.ops.items()})
    total.notes.extend(f"{part.perturbation}: {n}" for n in part.notes)
    total.records.extend({**r, "step": part.perturbation} for r in part.records)
