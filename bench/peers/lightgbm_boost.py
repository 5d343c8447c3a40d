"""The peer of `boosting-speed`: LightGBM fitting the same encoded rows as ours.

Reads the Parquet file the bench wrote (columns f0..fN, label, test), bins the train rows
(`Dataset.construct`, timed as binning) and boosts a fixed number of trees with the same
leaves, depth, bins, learning rate, leaf limits and L2, no subsampling, on the given
threads (timed as boosting), then scores the test rows.

    python lightgbm_boost.py TABLE.parquet TREES LEAVES DEPTH LEARNING_RATE BINS \
        MIN_ROWS_IN_LEAF MIN_CHILD_WEIGHT LAMBDA THREADS

Prints one line: `binning=<s> boosting=<s> trees=<n> roc_auc=<held-out>`.
"""

import sys
import time

import lightgbm as lgb
import pandas as pd
from sklearn.metrics import roc_auc_score


def main() -> None:
    table, trees, leaves, depth, rate, bins, min_rows, min_weight, l2, threads = sys.argv[1:]
    frame = pd.read_parquet(table)
    test = frame.pop("test").to_numpy()
    labels = frame.pop("label").astype(int).to_numpy()
    x = frame.to_numpy(dtype="float64")
    params = {
        "objective": "binary",
        "num_leaves": int(leaves),
        "max_depth": int(depth),
        "learning_rate": float(rate),
        "max_bin": int(bins),
        "min_data_in_leaf": int(min_rows),
        "min_sum_hessian_in_leaf": float(min_weight),
        "lambda_l2": float(l2),
        "feature_fraction": 1.0,
        "bagging_fraction": 1.0,
        "num_threads": int(threads),
        "deterministic": True,
        "force_col_wise": True,
        "verbose": -1,
    }
    started = time.perf_counter()
    train = lgb.Dataset(x[~test], label=labels[~test], params=params).construct()
    binning = time.perf_counter() - started
    started = time.perf_counter()
    booster = lgb.train(params, train, num_boost_round=int(trees))
    boosting = time.perf_counter() - started
    auc = roc_auc_score(labels[test], booster.predict(x[test], raw_score=True))
    print(
        f"binning={binning:.3f} boosting={boosting:.3f} "
        f"trees={booster.num_trees()} roc_auc={auc:.4f}"
    )


if __name__ == "__main__":
    main()
