"""Evidently's data-drift preset on two feature tables: the peer of bench's drift-scale.

Usage: evidently_drift.py REFERENCE.parquet CURRENT.parquet ID_COLUMN LABEL_COLUMN

Prints one line: the seconds to load both tables, the seconds of the report, the process's
peak resident memory, and how many columns Evidently calls drifted.
"""

import resource
import sys
import time

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


def main() -> None:
    reference_path, current_path, id_column, label_column = sys.argv[1:5]
    started = time.perf_counter()
    reference = pd.read_parquet(reference_path)
    current = pd.read_parquet(current_path)
    not_features = [c for c in (id_column, label_column) if c in reference.columns]
    reference = reference.drop(columns=not_features)
    current = current.drop(columns=[c for c in not_features if c in current.columns])
    loaded = time.perf_counter() - started

    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current, reference)
    result = snapshot.dict()
    seconds = time.perf_counter() - started

    drifted = "?"
    for metric in result.get("metrics", []):
        name = str(metric.get("metric_id", metric.get("metric_name", "")))
        if name.startswith("DriftedColumnsCount"):
            value = metric.get("value", {})
            drifted = f"{value.get('count', '?'):.0f} of {len(reference.columns)} columns"
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"evidently: {len(current)} rows x {len(current.columns)} columns; "
        f"load {loaded:.2f} s, drift report {seconds:.2f} s, peak {peak_mib:.0f} MiB; "
        f"drifted: {drifted}"
    )


if __name__ == "__main__":
    main()
