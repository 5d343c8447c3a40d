"""The peer of `train-shapes`: what a team would run instead of `churn train`.

LightGBM tuned by a 40-config x 5-fold random search (scikit-learn's RandomizedSearchCV,
ROC-AUC, refit on the whole train split), on the same CSV and the same test ids as ours,
with 2 threads. Categorical text columns go in as pandas categories (LightGBM's own
categorical splits); the id and the columns we drop are left out.

    python lightgbm_search.py TABLE.csv TEST_IDS.txt ID_COLUMN TARGET_COLUMN [DROP ...]

Prints one line: `seconds=<wall> roc_auc=<held-out>`.
"""

import sys
import time

import lightgbm as lgb
import pandas as pd
from scipy.stats import loguniform, randint, uniform
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import RandomizedSearchCV, StratifiedKFold


def main() -> None:
    table, test_ids, id_column, target, *drop = sys.argv[1:]
    frame = pd.read_csv(table)
    wanted = set(open(test_ids).read().split())
    test = frame[id_column].astype(str).isin(wanted)
    labels = frame.pop(target).astype(int)
    frame = frame.drop(columns=[id_column, *drop])
    for name in frame.select_dtypes(exclude=["number", "bool"]).columns:
        frame[name] = frame[name].astype("category")
    started = time.perf_counter()
    search = RandomizedSearchCV(
        lgb.LGBMClassifier(n_estimators=400, n_jobs=2, verbose=-1, random_state=42),
        {
            "learning_rate": loguniform(0.01, 0.2),
            "num_leaves": randint(4, 64),
            "min_child_samples": randint(5, 100),
            "subsample": uniform(0.5, 0.5),
            "subsample_freq": [1],
            "colsample_bytree": uniform(0.3, 0.7),
            "reg_lambda": loguniform(1e-2, 30),
        },
        n_iter=40,
        scoring="roc_auc",
        cv=StratifiedKFold(5, shuffle=True, random_state=42),
        refit=True,
        random_state=42,
        n_jobs=1,
    )
    search.fit(frame[~test], labels[~test])
    seconds = time.perf_counter() - started
    auc = roc_auc_score(labels[test], search.predict_proba(frame[test])[:, 1])
    print(f"seconds={seconds:.1f} roc_auc={auc:.4f}")


if __name__ == "__main__":
    main()
