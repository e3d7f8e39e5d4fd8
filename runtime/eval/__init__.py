"""Evaluation, its own package: metrics, students, IR evaluation, embeddings and the report.

`run_eval()` is the one entry point (`synthc eval` and a recipe's `evaluate` node both call it);
docs/eval.md documents the report's keys. Heavy libraries (scikit-learn, torch, spaCy, mauve,
matplotlib) are imported inside the functions that use them, so importing this package is cheap —
the build's dense retrieval imports `synthc.runtime.eval.embed` for the shared MiniLM loader.
"""

from synthc.runtime.eval.datasets import Dataset, dataset_from_records, name_paths, read_dataset
from synthc.runtime.eval.evaluate import METRICS_SCHEMA_VERSION, Evaluation, Options
from synthc.runtime.eval.run import EvalResult, IRJob, run_eval

__all__ = ["run_eval", "EvalResult", "IRJob", "Options", "Evaluation", "Dataset", "dataset_from_records",
           "read_dataset", "name_paths", "METRICS_SCHEMA_VERSION"]
