"""Generate synthetic Pima-like diabetes CSVs (the project's sample input and benchmark inputs).

The sample `dataops_cli/starter/diabetes_preprocessed.csv` is synthetic: 768 rows drawn per class
(Outcome 0/1, 35% positive) from distributions whose means, spreads and main correlations
follow the published Pima Indians Diabetes statistics, with zeros standing for missing
values in Glucose, BloodPressure, SkinThickness, Insulin and BMI at the real dataset's
rates (5, 35, 227, 374 and 11 of 768; Insulin is missing wherever SkinThickness is).
The benchmark files add blank cells (`--blank-rate`) on top.

    python -m dataops_cli.starter.generate                   # the committed (and packaged) sample
    python -m dataops_cli.starter.generate --rows 1000000 --blank-rate 0.05 --out bench/data/1m.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

COLUMNS = [
    "Pregnancies", "Glucose", "BloodPressure", "SkinThickness", "Insulin",
    "BMI", "DiabetesPedigreeFunction", "Age", "Outcome",
]  # fmt: skip
ZERO_RATES = {"Glucose": 5 / 768, "BloodPressure": 35 / 768, "SkinThickness": 227 / 768, "BMI": 11 / 768}
EXTRA_INSULIN_ZERO_RATE = (374 - 227) / (768 - 227)
POSITIVE_RATE = 0.349
# (mean, std) of present values for Outcome 0 and 1.
CLASS_PARAMS = {
    "Glucose": ((110.6, 24.8), (142.3, 29.6)),
    "BloodPressure": ((70.9, 12.2), (75.3, 12.3)),
    "SkinThickness": ((27.2, 10.0), (33.0, 10.3)),
    "BMI": ((30.9, 6.6), (35.4, 6.6)),
}
DEFAULT_SEED = 20240607
DEFAULT_OUT = Path(__file__).with_name("diabetes_preprocessed.csv")


def generate(rows: int, seed: int = DEFAULT_SEED, blank_rate: float = 0.0) -> pa.Table:
    """A table of `rows` synthetic records; deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    outcome = (rng.random(rows) < POSITIVE_RATE).astype(np.int64)
    latent = rng.standard_normal((rows, 4))  # shared factors: age, adiposity, glycaemia, noise
    age = np.clip(21 + np.exp(2.3 + 0.2 * outcome + 0.8 * latent[:, 0]), 21, 81).round()
    pregnancies = np.clip(rng.poisson(np.maximum(0.2, (age - 18) / 5.5) * (1 + 0.35 * outcome)), 0, 17)
    columns: dict[str, np.ndarray] = {"Pregnancies": pregnancies.astype(np.int64)}
    for name, mix in (
        ("Glucose", (0.0, 0.0, 0.85)),
        ("BloodPressure", (0.35, 0.3, 0.0)),
        ("SkinThickness", (0.0, 0.8, 0.0)),
        ("BMI", (0.05, 0.85, 0.0)),
    ):
        (m0, s0), (m1, s1) = CLASS_PARAMS[name]
        mean, std = np.where(outcome == 1, m1, m0), np.where(outcome == 1, s1, s0)
        z = mix[0] * latent[:, 0] + mix[1] * latent[:, 1] + mix[2] * latent[:, 2]
        z = z + np.sqrt(max(0.0, 1 - sum(w * w for w in mix))) * rng.standard_normal(rows)
        columns[name] = mean + std * z
    columns["Glucose"] = np.clip(columns["Glucose"], 44, 199).round()
    columns["BloodPressure"] = np.clip(columns["BloodPressure"], 24, 122).round()
    columns["SkinThickness"] = np.clip(columns["SkinThickness"], 7, 99).round()
    columns["BMI"] = np.clip(columns["BMI"], 18.2, 67.1).round(1)
    insulin = np.exp(4.6 + 0.35 * outcome + 0.55 * (0.7 * latent[:, 2] + 0.71 * rng.standard_normal(rows)))
    columns["Insulin"] = np.clip(insulin, 14, 846).round()
    pedigree = np.exp(-1.05 + 0.2 * outcome + 0.55 * rng.standard_normal(rows))
    columns["DiabetesPedigreeFunction"] = np.clip(pedigree, 0.078, 2.42).round(3)
    columns["Age"] = age
    columns["Outcome"] = outcome

    for name, rate in ZERO_RATES.items():
        columns[name][rng.random(rows) < rate] = 0
    skin_missing = columns["SkinThickness"] == 0
    columns["Insulin"][skin_missing | (rng.random(rows) < EXTRA_INSULIN_ZERO_RATE)] = 0

    arrays = []
    for name in COLUMNS:
        values = columns[name]
        if name in ("Pregnancies", "Glucose", "BloodPressure", "SkinThickness", "Insulin", "Age", "Outcome"):
            values = values.astype(np.int64)
        blank = rng.random(rows) < blank_rate if blank_rate and name != "Outcome" else None
        arrays.append(pa.array(values, mask=blank))
    return pa.table(dict(zip(COLUMNS, arrays, strict=True)))


def write(table: pa.Table, path: Path) -> None:
    """Plain CSV as people write it: unquoted header, no quotes around numbers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.write((",".join(table.column_names) + "\n").encode())
        pacsv.write_csv(table, out, pacsv.WriteOptions(include_header=False, quoting_style="none"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=768)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--blank-rate", type=float, default=0.0, help="share of feature cells left empty")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    write(generate(args.rows, args.seed, args.blank_rate), args.out)
    print(f"wrote {args.rows} rows to {args.out}")


if __name__ == "__main__":
    main()
