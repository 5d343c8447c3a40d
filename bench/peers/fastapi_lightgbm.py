"""The Python peer of `api-load`: the scoring API a team would deploy instead of
`churn serve` — FastAPI on uvicorn (uvloop, httptools) with a LightGBM model.

    python fastapi_lightgbm.py TRAIN_TABLE SCORE_TABLE FEATURES_JSON ID_COLUMN LABEL_COLUMN PORT WORKERS

Trains LightGBM (200 trees, 31 leaves, 2 threads) on TRAIN_TABLE's columns named by
FEATURES_JSON (a JSON list: the features our champion scores), keeps
SCORE_TABLE's rows by customer id, and serves, like our API:

    POST /v1/score?reasons=N           {"record": {feature: value}}  -> {"probability", "tier", "reasons"}
    GET  /v1/customers/{id}?reasons=N  the stored row, scored         -> the same with "customer_id"

reasons (default 3, as ours) are the top SHAP contributions by LightGBM's pred_contrib;
reasons=0 skips them.

It gives the peer its fastest honest path: the record becomes one row of a NumPy array
(categories as the codes LightGBM was trained with) scored by the booster directly, not
a pandas DataFrame per request.
Prints "ready" on stdout when it listens.
"""

import json
import os
import sys

import lightgbm as lgb
import numpy as np
import pandas as pd


def train(train_path, features_path, label_column):
    """LightGBM on the training table's labelled rows; categories as sorted codes."""
    table = pd.read_parquet(train_path)
    table = table[table[label_column].notna()]
    with open(features_path) as handle:
        features = [c for c in json.load(handle) if c in table.columns]
    categorical = [c for c in features
                   if pd.api.types.is_bool_dtype(table[c]) or not pd.api.types.is_numeric_dtype(table[c])]
    codes = {}
    matrix = np.empty((len(table), len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        column = table[name]
        if name in categorical:
            codes[name] = {v: float(i) for i, v in enumerate(sorted({str(v) for v in column.dropna().unique()}))}
            matrix[:, j] = [codes[name].get(str(v), np.nan) if v is not None and v == v else np.nan for v in column]
        else:
            matrix[:, j] = pd.to_numeric(column, errors="coerce").astype(np.float64)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 31, "learning_rate": 0.05, "num_threads": 2,
         "max_bin": 255, "verbose": -1, "seed": 42},
        lgb.Dataset(matrix, table[label_column].astype(int).to_numpy(),
                    categorical_feature=[features.index(c) for c in categorical]),
        num_boost_round=200,
    )
    return features, codes, booster


if __name__ == "__main__":
    train_path, score_path, features_path, id_column, label_column, port, workers = sys.argv[1:8]
    features, codes, booster = train(train_path, features_path, label_column)
    state = f"/tmp/churn-api-peer-{port}"
    booster.save_model(state + ".model")
    with open(state + ".json", "w") as handle:
        json.dump({"features": features, "codes": codes, "score_path": score_path, "id_column": id_column}, handle)
    os.environ["PEER_STATE"] = state
    import uvicorn
    print("ready", flush=True)
    uvicorn.run("fastapi_lightgbm:app", host="127.0.0.1", port=int(port), workers=int(workers),
                log_level="warning", access_log=False, loop="uvloop", http="httptools",
                app_dir=os.path.dirname(os.path.abspath(__file__)))

elif __name__ == "fastapi_lightgbm":
    # Each worker: uvicorn imports this module by name (multiprocessing's re-run of the
    # launcher in a worker is `__mp_main__`, and skips both branches).
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.responses import ORJSONResponse

    STATE = os.environ["PEER_STATE"]
    with open(STATE + ".json") as handle:
        SETTINGS = json.load(handle)
    FEATURES = SETTINGS["features"]
    CODES = SETTINGS["codes"]
    BOOSTER = lgb.Booster(model_file=STATE + ".model", params={"num_threads": 1})
    HIGH, MEDIUM = 0.5, 0.2

    def row_of(record):
        row = np.empty((1, len(FEATURES)), dtype=np.float64)
        for j, name in enumerate(FEATURES):
            value = record.get(name)
            if value is None or value is pd.NA or (isinstance(value, float) and value != value):
                row[0, j] = np.nan
            elif name in CODES:
                row[0, j] = CODES[name].get(str(value), np.nan)
            elif isinstance(value, (bool, int, float, np.integer, np.floating)):
                row[0, j] = float(value)
            else:
                raise HTTPException(422, f"{name}: not a number")
        return row

    def scored(row, reasons):
        """Probability and tier; with reasons > 0, the top SHAP contributions too (LightGBM's
        pred_contrib, its TreeSHAP: the peer's equivalent of our reasons)."""
        if reasons > 0:
            contributions = BOOSTER.predict(row, pred_contrib=True, num_threads=1)[0]
            probability = float(1.0 / (1.0 + np.exp(-contributions.sum())))
            top = np.argsort(-contributions[:-1], kind="stable")[:reasons]
            named = [{"feature": FEATURES[i], "contribution": float(contributions[i])} for i in top]
        else:
            probability = float(BOOSTER.predict(row, num_threads=1)[0])
            named = []
        tier = "high" if probability >= HIGH else "medium" if probability >= MEDIUM else "low"
        return {"probability": probability, "tier": tier, "reasons": named}

    ROWS = {str(record[SETTINGS["id_column"]]): row_of(record)
            for record in pd.read_parquet(SETTINGS["score_path"]).to_dict(orient="records")}

    app = FastAPI()

    @app.post("/v1/score", response_class=ORJSONResponse)
    async def score(request: Request, reasons: int = 3):
        body = await request.json()
        return scored(row_of(body["record"]), reasons)

    @app.get("/v1/customers/{customer_id}", response_class=ORJSONResponse)
    async def customer(customer_id: str, reasons: int = 3):
        row = ROWS.get(customer_id)
        if row is None:
            raise HTTPException(404, f"no customer {customer_id}")
        return {"customer_id": customer_id, **scored(row, reasons)}
