"""Evaluation: metrics, figures and the run report.

>>> import numpy as np
>>> from skysift.evaluation import evaluate_classification, format_summary_table
>>> metrics = evaluate_classification([0, 1, 1], np.eye(2)[[0, 1, 0]], ["Ia", "II"])
>>> metrics["headline"]["accuracy"]
0.6666666666666666
"""

from skysift.evaluation.metrics import (
    DEFAULT_CUTS,
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    binary_pr_curve,
    binary_roc_curve,
    check_classification_inputs,
    confidence_cut_table,
    confusion_matrix,
    contamination_loss,
    coverage_accuracy_curve,
    coverage_at_cut,
    evaluate_classification,
    evaluate_regression,
    expected_calibration_loss,
    f1_score,
    group_probabilities,
    match_supernova_classes,
    per_class_scores,
    purity_score,
    regression_scores,
    reliability_curve,
    roc_auc_score,
    weighted_log_loss,
)
from skysift.evaluation.report import (
    format_summary_table,
    read_history_csv,
    write_report,
)

__all__ = [
    "DEFAULT_CUTS",
    "accuracy_score",
    "average_precision_score",
    "balanced_accuracy_score",
    "binary_pr_curve",
    "binary_roc_curve",
    "check_classification_inputs",
    "confidence_cut_table",
    "confusion_matrix",
    "contamination_loss",
    "coverage_accuracy_curve",
    "coverage_at_cut",
    "evaluate_classification",
    "evaluate_regression",
    "expected_calibration_loss",
    "f1_score",
    "format_summary_table",
    "group_probabilities",
    "match_supernova_classes",
    "per_class_scores",
    "purity_score",
    "read_history_csv",
    "regression_scores",
    "reliability_curve",
    "roc_auc_score",
    "weighted_log_loss",
    "write_report",
]
