"""handler.quality: the profile, each check's exact rule and threshold, settings, history."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from handler import quality as q
from handler import quality_checks as qc
from handler.errors import ConfigurationError
from handler.pipeline import PipelineOptions, process
from handler.reader import read_columns
from tests.conftest import SAMPLE_CSV, opener

# The Lambda lane (.ci/lambda-lane) runs this module on Python 3.12 with the layer's versions.
pytestmark = pytest.mark.handler

S = q.QualitySettings()


def run_profile(data: bytes, run_id: str = "r1", options: PipelineOptions | None = None) -> dict:
    options = options or PipelineOptions()
    columns = read_columns(opener(data))
    zeros = q.count_zeros(columns.numeric, options.zero_as_missing)
    return q.profile(process(columns, options), run_id, zeros)


@pytest.fixture(scope="module")
def base() -> dict:
    return run_profile(SAMPLE_CSV.read_bytes())


def not_ok(checks: list[dict]) -> list[tuple[str, str, str | None]]:
    return [(c["name"], c["level"], c.get("column")) for c in checks if c["level"] != "ok"]


def simple(rows=100, missing=None, numeric=None, columns=None, corr=None, zeros=None, run_id="h") -> dict:
    columns = columns or [("a", "numeric"), ("b", "numeric")]
    names = [n for n, _ in columns]
    missing = missing or dict.fromkeys(names, 0.0)
    numeric = numeric or {n: {"mean": 10.0, "std": 2.0, "min": 1.0, "max": 20.0} for n, t in columns if t == "numeric"}
    return {
        "run_id": run_id,
        "rows": rows,
        "columns": [{"name": n, "type": t} for n, t in columns],
        "missing": {n: int(r * rows) for n, r in missing.items()},
        "missing_rate": missing,
        "numeric": numeric,
        "zeros": zeros or {},
        "correlation": corr or {"columns": list(numeric), "matrix": [[1.0, 0.5], [0.5, 1.0]][: len(numeric)]},
    }


# ---------------------------------------------------------------------------- profile


def test_profile_describes_present_values_before_imputation(base):
    columns = read_columns(opener(SAMPLE_CSV.read_bytes()))
    raw = {n: v.copy() for n, v in columns.numeric.items()}
    for name, stats in base["numeric"].items():
        values = raw[name][~np.isnan(raw[name])]
        if name in PipelineOptions().zero_as_missing:
            values = values[values != 0]
        assert stats["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert stats["std"] == pytest.approx(values.std(), rel=1e-9)
        assert (stats["min"], stats["max"]) == (values.min(), values.max())
    assert base["rows"] == 768
    assert [c["name"] for c in base["columns"]][:2] == ["Pregnancies", "Glucose"]
    assert {c["type"] for c in base["columns"]} == {"numeric"}
    assert base["missing_rate"]["Insulin"] == round(base["missing"]["Insulin"] / 768, 6)
    assert base["zeros"] == {"Glucose": 2, "BloodPressure": 30, "SkinThickness": 208, "Insulin": 374, "BMI": 13}
    matrix = base["correlation"]["matrix"]
    assert len(matrix) == 9 and matrix[0][0] == 1.0


def test_profile_of_text_and_constant_columns():
    data = b"id,city,k\n1,Pune,5\n2,,5\n3,Delhi,5\n"
    p = run_profile(data, options=PipelineOptions(zero_as_missing=(), normalize_exclude=()))
    assert [c["type"] for c in p["columns"]] == ["numeric", "text", "numeric"]
    assert p["missing"] == {"id": 0, "city": 1, "k": 0}
    assert "city" not in p["numeric"]
    assert p["correlation"]["matrix"][0][1] is None  # k is constant: undefined, kept as JSON null


def test_present_stats_with_mean_imputation_matches_direct():
    values = np.array([1.0, 4.0, 7.0, 10.0])
    filled = np.concatenate([values, np.full(3, values.mean())])
    got = q.present_stats(7, 3, filled.mean(), filled.std(), filled.min(), filled.max(), values.mean())
    assert got["mean"] == pytest.approx(values.mean()) and got["std"] == pytest.approx(values.std())


def test_present_stats_without_gaps_is_unchanged():
    assert q.present_stats(5, 0, 3.0, 1.0, 1.0, 5.0, None) == {"mean": 3.0, "std": 1.0, "min": 1.0, "max": 5.0}


# ---------------------------------------------------------------------------- no history


def test_no_history_every_history_check_is_ok_and_says_so(base):
    checks = qc.run_checks(base, [], S)
    assert not_ok(checks) == []
    for check in checks:
        if check["name"] in ("schema", "row_count", "completeness", "distribution", "correlation"):
            assert "no " in check["message"] and ("history" in check["message"] or "earlier" in check["message"])


def test_same_profile_again_is_all_ok(base):
    checks = qc.run_checks(base, [base], S)
    assert not_ok(checks) == []
    names = [c["name"] for c in checks]
    assert names == ["schema", "row_count", *["completeness"] * 9, *["distribution"] * 9, "correlation"] + [
        "zero_markers"
    ] * 5 + ["formula_like_text"]


# ---------------------------------------------------------------------------- schema


def test_schema_names_added_removed_reordered_retyped():
    before = simple(columns=[("a", "numeric"), ("b", "numeric"), ("c", "text")], run_id="old")
    now = simple(columns=[("b", "numeric"), ("a", "text"), ("d", "numeric")])
    check = qc.schema_check(now, before)
    assert check["level"] == "fail"
    assert check["message"] == (
        "schema changed since run old: added d; removed c; reordered (now b, a); retyped a numeric -> text"
    )
    assert check["observed"] == ["b:numeric", "a:text", "d:numeric"]
    assert check["expected"] == ["a:numeric", "b:numeric", "c:text"]


def test_schema_compares_with_the_previous_run_only():
    old = simple(columns=[("x", "numeric")])
    previous = simple(run_id="prev")
    assert qc.run_checks(simple(), [old, previous], S)[0]["level"] == "ok"


# ---------------------------------------------------------------------------- row_count


@pytest.mark.parametrize(
    ("rows", "level"), [(50, "ok"), (49, "warn"), (200, "ok"), (201, "warn"), (100, "ok"), (0, "warn")]
)
def test_row_count_bounds_are_inclusive_factors_of_the_median(rows, level):
    history = [simple(rows=90), simple(rows=100), simple(rows=500)]  # median 100
    check = qc.row_count_check(simple(rows=rows), history, S)
    assert (check["level"], check["observed"], check["expected"]) == (level, rows, "50 to 200")


def test_row_count_custom_factors():
    settings = q.QualitySettings(row_count_min_factor=0.9, row_count_max_factor=1.1)
    assert qc.row_count_check(simple(rows=89), [simple(rows=100)], settings)["level"] == "warn"
    assert qc.row_count_check(simple(rows=110), [simple(rows=100)], settings)["level"] == "ok"


# ---------------------------------------------------------------------------- completeness


def test_completeness_warns_above_median_plus_margin_and_fails_above_max():
    history = [simple(missing={"a": 0.1, "b": 0.0}), simple(missing={"a": 0.2, "b": 0.0}), simple()]
    # median for a: 0.1 -> limit 0.2; b: 0.0 -> 0.1
    checks = qc.completeness_checks(simple(missing={"a": 0.2, "b": 0.1000001}), history, S)
    assert [(c["column"], c["level"], c["expected"]) for c in checks] == [
        ("a", "ok", "<= 0.2"),
        ("b", "warn", "<= 0.1"),
    ]
    checks = qc.completeness_checks(simple(missing={"a": 0.96, "b": 0.95}), history, S)
    assert [(c["column"], c["level"]) for c in checks] == [("a", "fail"), ("b", "warn")]


def test_completeness_fails_above_max_even_without_history():
    checks = qc.completeness_checks(simple(missing={"a": 0.97, "b": 0.0}), [], S)
    assert [(c["column"], c["level"]) for c in checks] == [("a", "fail"), ("b", "ok")]


def test_completeness_new_column_has_no_history():
    history = [simple()]
    now = simple(columns=[("a", "numeric"), ("b", "numeric"), ("c", "text")], missing={"a": 0, "b": 0, "c": 0.5})
    check = qc.completeness_checks(now, history, S)[2]
    assert (check["column"], check["level"], check["expected"]) == ("c", "ok", "no history")


# ---------------------------------------------------------------------------- distribution


def test_distribution_standardized_mean_difference_against_medians():
    history = [
        simple(
            numeric={
                "a": {"mean": 10.0, "std": 2.0, "min": 0, "max": 1},
                "b": {"mean": 0, "std": 1, "min": 0, "max": 1},
            }
        ),
        simple(
            numeric={
                "a": {"mean": 12.0, "std": 4.0, "min": 0, "max": 1},
                "b": {"mean": 0, "std": 1, "min": 0, "max": 1},
            }
        ),
        simple(
            numeric={
                "a": {"mean": 11.0, "std": 3.0, "min": 0, "max": 1},
                "b": {"mean": 0, "std": 1, "min": 0, "max": 1},
            }
        ),
    ]  # a: baseline mean 11, std 3 -> a shift of 1.5 is exactly 0.5
    now = simple(
        numeric={
            "a": {"mean": 12.5, "std": 3.0, "min": 0, "max": 1},
            "b": {"mean": -0.51, "std": 1, "min": 0, "max": 1},
        }
    )
    checks = qc.distribution_checks(now, history, S)
    assert [(c["column"], c["level"], c["observed"]) for c in checks] == [("a", "ok", 0.5), ("b", "warn", 0.51)]


def test_distribution_constant_baseline():
    constant = {"a": {"mean": 5.0, "std": 0.0, "min": 5, "max": 5}}
    history = [simple(numeric=constant, corr={"columns": ["a"], "matrix": [[None]]})]
    same = qc.distribution_checks(simple(numeric=constant), history, S)[0]
    moved = qc.distribution_checks(simple(numeric={"a": {"mean": 5.1, "std": 0.1, "min": 5, "max": 6}}), history, S)[0]
    assert (same["level"], same["observed"]) == ("ok", 0.0)
    assert (moved["level"], moved["observed"]) == ("warn", None)
    assert "infinite" in moved["message"]


# ---------------------------------------------------------------------------- correlation


def corr3(ab: float, ac: float, bc: float | None) -> dict:
    return {"columns": ["a", "b", "c"], "matrix": [[1.0, ab, ac], [ab, 1.0, bc], [ac, bc, 1.0]]}


def test_correlation_one_ok_check_with_the_largest_change():
    history = [simple(corr=corr3(0.5, 0.1, 0.2)), simple(corr=corr3(0.7, 0.1, 0.2)), simple(corr=corr3(0.6, 0.1, 0.2))]
    checks = qc.correlation_checks(simple(corr=corr3(0.4, 0.3, 0.2)), history, S)
    assert [(c["level"], c["observed"], c.get("column")) for c in checks] == [("ok", 0.2, None)]
    assert "largest change a/b" in checks[0]["message"]


def test_correlation_warns_per_pair_that_moved_more_than_the_threshold():
    history = [simple(corr=corr3(0.5, 0.1, 0.2))]
    checks = qc.correlation_checks(simple(corr=corr3(0.1, 0.1, -0.2)), history, S)
    assert [(c["level"], c["column"], c["observed"]) for c in checks] == [("warn", "a/b", 0.4), ("warn", "b/c", 0.4)]


def test_correlation_skips_undefined_pairs():
    history = [simple(corr=corr3(0.5, 0.1, None))]
    checks = qc.correlation_checks(simple(corr=corr3(0.5, 0.1, 0.9)), history, S)
    assert [c["level"] for c in checks] == ["ok"]


# ---------------------------------------------------------------------------- zero_markers


def test_zero_markers_warns_only_for_zeros_among_unit_values():
    numeric = {
        "g": {"mean": 0.5, "std": 0.1, "min": 0.01, "max": 1.0},
        "h": {"mean": 0.5, "std": 0.1, "min": 0.01, "max": 1.0},
        "i": {"mean": 50, "std": 10, "min": 1, "max": 99},
    }
    checks = q.zero_marker_checks(numeric, {"g": 3, "h": 0, "i": 5})
    assert [(c["column"], c["level"], c["observed"]) for c in checks] == [
        ("g", "warn", 3),
        ("h", "ok", 0),
        ("i", "ok", 5),
    ]
    assert "already normalized" in checks[0]["message"] and "pipeline.zero_as_missing" in checks[0]["message"]


def test_zero_markers_on_a_min_max_normalized_copy(base):
    columns = read_columns(opener(SAMPLE_CSV.read_bytes()))
    lines = ["Pregnancies,Glucose,BloodPressure,SkinThickness,Insulin,BMI,DiabetesPedigreeFunction,Age,Outcome"]
    scaled = {}
    for name, values in columns.numeric.items():
        low, high = np.nanmin(values), np.nanmax(values)
        scaled[name] = (values - low) / (high - low)
    for i in range(columns.rows):
        lines.append(",".join("" if np.isnan(scaled[n][i]) else repr(float(scaled[n][i])) for n in columns.names))
    p = run_profile(("\n".join(lines) + "\n").encode())
    checks = q.zero_marker_checks(p["numeric"], p["zeros"])
    assert {c["level"] for c in checks} == {"warn"}


# ---------------------------------------------------------------------------- settings, history, documents


def test_settings_from_environ_defaults_and_values():
    assert q.QualitySettings.from_environ({}) == S
    got = q.QualitySettings.from_environ({"QUALITY_HISTORY_RUNS": "5", "QUALITY_ON_FAILURE": "block"})
    assert (got.history_runs, got.on_failure) == (5, "block")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"QUALITY_HISTORY_RUNS": "five"}, "QUALITY_HISTORY_RUNS='five' is not an integer"),
        ({"QUALITY_HISTORY_RUNS": "0"}, "QUALITY_HISTORY_RUNS=0 is not allowed"),
        ({"QUALITY_ON_FAILURE": "stop"}, "QUALITY_ON_FAILURE='stop' is not allowed: expected 'warn' or 'block'"),
        ({"QUALITY_MAX_MEAN_SHIFT": "nan"}, "QUALITY_MAX_MEAN_SHIFT='nan' is not a finite number"),
        ({"QUALITY_MAX_MEAN_SHIFT": "0"}, "QUALITY_MAX_MEAN_SHIFT=0.0 is not allowed"),
        ({"QUALITY_ROW_COUNT_MIN_FACTOR": "1.5"}, "QUALITY_ROW_COUNT_MIN_FACTOR=1.5 is not allowed"),
        ({"QUALITY_MAX_MISSING_RATE": "x"}, "QUALITY_MAX_MISSING_RATE='x' is not a number"),
    ],
)
def test_settings_reject_bad_values_naming_the_variable(env, named):
    with pytest.raises(ConfigurationError, match=named.replace("(", r"\(").replace(".", r"\.")) as caught:
        q.QualitySettings.from_environ(env)
    assert caught.value.details["setting"] == next(iter(env))


def test_history_is_trimmed_to_the_newest_n():
    history = [simple(run_id=f"r{i}") for i in range(5)]
    document = q.history_document(history, simple(run_id="new"), keep=3)
    assert [p["run_id"] for p in document["profiles"]] == ["r3", "r4", "new"]
    assert document["version"] == 1


def test_parse_history_rejects_other_documents():
    assert q.parse_history({"profiles": [simple()]}, "k") == [simple()]
    with pytest.raises(ValueError, match="k is not a quality history"):
        q.parse_history([], "k")
    broken = copy.deepcopy(simple())
    del broken["numeric"]
    with pytest.raises(ValueError, match="k: profile 0 lacks"):
        q.parse_history({"profiles": [broken]}, "k")


def test_quality_document_and_log_lines():
    checks = [
        q._check("schema", "fail", [], [], "changed"),
        q._check("completeness", "warn", 0.5, "<= 0.1", "Glucose: too many gaps", "Glucose"),
        q._check("row_count", "ok", 1, "", "fine"),
    ]
    document = qc.quality_document(checks, 4)
    assert document["baseline_runs"] == 4 and document["summary"] == {"ok": 1, "warn": 1, "fail": 1}
    assert qc.failed(checks) == [checks[0]]
    assert qc.log_line(checks[0]) == "❌ Quality check schema: changed"
    assert qc.log_line(checks[1]) == "⚠️ Quality check completeness [Glucose]: Glucose: too many gaps"


# ---------------------------------------------------------------------------- bounded history (issue 19, item 5)


def wide_profile(width: int, run_id: str = "w") -> dict:

    rng = np.random.default_rng(5)
    header = ",".join(f"c{i}" for i in range(width))
    rows = "\n".join(",".join(f"{v:.3f}" for v in rng.normal(size=width)) for _ in range(4))
    return run_profile(
        f"{header}\n{rows}\n".encode(), run_id, PipelineOptions(zero_as_missing=(), normalize_exclude=())
    )


def test_correlations_are_kept_up_to_the_limit_and_the_check_says_when_not():
    kept = wide_profile(q.CORRELATION_MAX_COLUMNS)
    assert len(kept["correlation"]["columns"]) == q.CORRELATION_MAX_COLUMNS
    wide = wide_profile(q.CORRELATION_MAX_COLUMNS + 1)
    assert wide["correlation"] == {"columns": [], "matrix": [], "not_kept_columns": q.CORRELATION_MAX_COLUMNS + 1}
    (check,) = qc.correlation_checks(wide, [kept], S)
    assert check["level"] == "ok" and check["expected"] == "not compared"
    assert (
        check["message"]
        == "correlations not compared: 51 numeric columns, more than the 50 whose correlations the history keeps"
    )
    assert q.parse_history({"profiles": [wide]}, "k") == [wide]  # a wide profile is a valid one
    # a normal run after a wide one compares with the profiles that have correlations
    narrow = simple()
    assert qc.correlation_checks(narrow, [wide], S)[0]["message"].startswith("no history yet")


def test_the_history_stays_under_its_byte_limit_by_dropping_the_oldest():
    profiles = [simple(run_id=f"r{i}") for i in range(10)]
    one = len(json.dumps(profiles[0], separators=(",", ":")))
    body, dropped = q.history_bytes(profiles[:-1], profiles[-1], keep=20, max_bytes=4 * one + 100)
    document = json.loads(body)
    assert [p["run_id"] for p in document["profiles"]] == ["r6", "r7", "r8", "r9"] and dropped == 6
    assert len(body) <= 4 * one + 100
    assert q.history_bytes([], profiles[0], keep=20, max_bytes=one // 2) == (None, 1)  # too large alone
    body, dropped = q.history_bytes(profiles[:3], profiles[3], keep=2)
    assert [p["run_id"] for p in json.loads(body)["profiles"]] == ["r2", "r3"] and dropped == 0


def test_profiles_of_the_widest_default_input_still_make_a_history():
    wide = wide_profile(1000)
    size = len(json.dumps(wide, separators=(",", ":")))
    assert 5 * size < q.HISTORY_MAX_BYTES  # at least 5 profiles of 1,000 columns (the default limit)
    assert q.QualitySettings().history_runs * len(json.dumps(wide_profile(9))) < q.HISTORY_MAX_BYTES


def test_history_must_be_strict_json_of_finite_numbers():
    good = json.dumps({"profiles": [simple()]}).encode()
    assert q.load_history(good, "k") == [simple()]
    for bad, named in [
        (good.replace(b"10.0", b"NaN", 1), "NaN is not a number JSON allows"),
        (good.replace(b"10.0", b"Infinity", 1), "Infinity is not a number JSON allows"),
        (good.replace(b"10.0", b"1e999", 1), "1e999 overflows a double"),
        (b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
    ]:
        with pytest.raises(ValueError, match=named):
            q.load_history(bad, "k")


def test_present_stats_do_not_overflow_where_the_result_is_finite():
    # rows * mean (the old formula's first step) would overflow; the result does not
    got = q.present_stats(10, 5, 1e308, 0.0, 1e308, 1e308, 1e308)
    assert got == {"mean": 1e308, "std": 0.0, "min": 1e308, "max": 1e308}
    values = np.array([1e150, -1e150, 5e149])  # squares near 1e300: fine, and exact enough
    filled = np.concatenate([values, np.full(2, 5e149)])
    got = q.present_stats(5, 2, filled.mean(), filled.std(), filled.min(), filled.max(), 5e149)
    assert got["mean"] == pytest.approx(values.mean(), rel=1e-12) and got["std"] == pytest.approx(
        values.std(), rel=1e-9
    )
