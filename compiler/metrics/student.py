"""`student`: classifiers trained on the dataset, tested on real data — the verdict's basis."""

from __future__ import annotations

from synthc.compiler.fields import BOOL, ENUM, INT, LIST, Field
from synthc.compiler.metrics.base import MetricKind

__all__ = ["Student", "STUDENTS"]

STUDENTS = ("tfidf_lr", "minilm_lr")  # runtime/eval/students.py; the first listed judges


class Student(MetricKind):
    name = "student"
    doc = "students trained on the dataset (and on gold), macro-F1 on the real test split over seeds; higher"
    needs_labels = True
    settings = (
        Field("students", LIST(ENUM(*STUDENTS)), STUDENTS,
              doc="students trained per seed; the first judges; minilm_lr only where the dense extra is installed"),
        Field("gold_k", INT(1, 10_000), 10, doc="gold rows per label for the gold-k and gold-k + synthetic students"),
        Field("seeds", INT(1, 100), 5, doc="student runs (mean ± std over seeds)"),
        Field("gold_plus_synthetic", BOOL, False, doc="also train the students on gold at the same N + synthetic"),
    )
