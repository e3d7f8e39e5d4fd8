"""`run_eval()`: the one entry point of evaluation, used by `synthc eval` and a recipe's
`evaluate` node alike — measure, add the retrieval evaluation when asked, judge, write the report."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from synthc.compiler.source import NO_SPAN, Span
from synthc.runtime.errors import RunFailed, fail
from synthc.runtime.eval.datasets import Dataset
from synthc.runtime.eval.evaluate import Evaluation, Options, evaluate

__all__ = ["run_eval", "EvalResult", "IRJob", "check_report"]


@dataclass(frozen=True, slots=True)
class IRJob:
    """Sy-SE-PQA's retriever evaluation: the setup and (query, positive) training pairs per run."""
    setup: Any  # runtime/eval/ir.py IRSetup
    training: dict[str, Sequence[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class EvalResult:
    evaluation: Evaluation
    paths: list[str]  # every file written, figures included
    verdict: str
    table: str  # the side-by-side table as plain text, at most 100 characters wide

    @property
    def metrics(self) -> dict[str, Any]:
        return self.evaluation.metrics


def run_eval(datasets: Sequence[Dataset], real: Dataset, train: Dataset | None, opts: Options, out_dir: str,
             title: str, *, ir: IRJob | None = None, annotations: dict[str, Any] | None = None,
             origin: Span = NO_SPAN, where: str = "report directory",
             log: Callable[[str], None] = lambda _: None) -> EvalResult:
    """Evaluate `datasets` against `real` (and `train`), write metrics.json + report.{html,md} +
    figures into `out_dir`. A directory that cannot be written is E505 at `origin` (the recipe's
    `evaluate` block, or no location for the command line); `where` names what to change."""
    from synthc.runtime.eval.report import NotOwned, table_text, write_report
    from synthc.runtime.eval.verdict import verdict

    check_report(out_dir, origin)  # before the evaluation's minutes are spent
    result = evaluate(datasets, real, train, opts, log=log)
    if ir is not None:
        from synthc.runtime.eval.ir import evaluate_ir

        result.metrics["ir"] = evaluate_ir(ir.setup, ir.training, log)
    result.metrics.update(annotations or {})
    result.metrics["verdict"] = verdict(result.metrics)
    try:
        paths = write_report(result, out_dir, title)
    except NotOwned as exc:
        raise not_owned(exc.path, origin) from None
    except OSError as exc:
        raise fail("E505", f"cannot write the report to {out_dir}: {exc.strerror}", origin,
                   "evaluate declared here" if origin != NO_SPAN else "", help=f"choose a writable {where}") from None
    return EvalResult(result, paths, result.metrics["verdict"]["text"], table_text(result.metrics["summary"]))


def check_report(out_dir: str, origin: Span = NO_SPAN) -> None:
    """E524 if the report folder holds metrics.json, report.md or report.html that synthc did not
    write (the figures are checked again when their names are known)."""
    from synthc.runtime.eval.report import REPORT_FILES, NotOwned, check_report_targets

    try:
        check_report_targets(out_dir, [os.path.join(out_dir, f) for f in REPORT_FILES])
    except NotOwned as exc:
        raise not_owned(exc.path, origin) from None


def not_owned(path: str, origin: Span) -> RunFailed:
    from synthc.runtime.io.outputs import shown

    return fail("E524", f"{shown(path)} exists and was not written by synthc; the report will not replace it",
                origin, "evaluate declared here" if origin != NO_SPAN else "",
                help="write the report to a folder of its own, or move the file away if it is disposable")
