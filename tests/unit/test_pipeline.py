"""The pure pipeline's semantics, each pinned on small hand-checked tables."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from handler.outputs import cleaned_csv_chunks, correlation_csv, summary_document
from handler.pipeline import PipelineOptions, process
from handler.reader import read_columns
from handler.reader_basics import NA_TOKENS
from handler.runlog import to_json_bytes
from tests.conftest import SAMPLE_CSV, opener

# The Lambda lane (.ci/lambda-lane) runs this module on Python 3.12 with the layer's versions.
pytestmark = pytest.mark.handler

NO_ZEROS = PipelineOptions(zero_as_missing=(), normalize_exclude=())


def run(csv: str, options: PipelineOptions = NO_ZEROS):
    return process(read_columns(opener(csv.encode())), options)


def cleaned_frame(result) -> pd.DataFrame:
    return pacsv.read_csv(io.BytesIO(b"".join(cleaned_csv_chunks(result)))).to_pandas()


def test_empty_cells_and_na_tokens_are_missing():
    tokens = ["", "NA", "N/A", "null", "NaN", "nan", "None", "#N/A", "<NA>"]
    body = "\n".join(f"{t},1" for t in tokens)
    result = run(f"a,b\n{body}\n5,2\n")
    assert result.missing == {"a": len(tokens), "b": 0}
    assert set(tokens) <= set(NA_TOKENS)


def test_zero_is_missing_only_in_configured_columns():
    result = run("a,b,c\n0,0,1\n4,0,2\n2,6,3\n", PipelineOptions(zero_as_missing=("b",), normalize_exclude=()))
    assert result.missing == {"a": 0, "b": 2, "c": 0}
    assert result.imputed == {"b": 6.0}
    assert result.stats["a"].min == 0.0  # a's zero is a real value


def test_median_and_mean_imputation_use_present_values_only():
    csv = "x,y\n1,0\n2,0\n,0\n10,1\n"
    assert run(csv, PipelineOptions(zero_as_missing=(), normalize_exclude=(), impute_strategy="median")).imputed == {
        "x": 2.0
    }
    mean = run(csv, PipelineOptions(zero_as_missing=(), normalize_exclude=(), impute_strategy="mean"))
    assert mean.imputed == {"x": pytest.approx(13 / 3)}
    assert mean.stats["x"].mean == pytest.approx((1 + 2 + 13 / 3 + 10) / 4)


def test_text_columns_take_most_frequent_value_ties_sort_first():
    result = run("n,city\n1,Pune\n2,Agra\n3,\n4,Pune\n5,Agra\n6,NA\n")
    assert result.missing["city"] == 2
    assert result.imputed["city"] == "Agra"  # Agra and Pune tie at 2: Agra sorts first
    assert cleaned_frame(result)["city"].tolist() == ["Pune", "Agra", "Agra", "Pune", "Agra", "Agra"]


def test_minmax_maps_to_unit_interval_and_keeps_excluded_columns():
    result = run("a,label\n2,1\n4,0\n6,1\n", PipelineOptions(zero_as_missing=(), normalize_exclude=("label",)))
    frame = cleaned_frame(result)
    assert frame["a"].tolist() == [0.0, 0.5, 1.0]
    assert frame["label"].tolist() == [1, 0, 1]
    assert result.normalized == ["a"]
    assert result.dtypes == {"a": "float64", "label": "int64"}


def test_zscore_uses_population_std():
    result = run(
        "a\n1\n2\n3\n4\n", PipelineOptions(zero_as_missing=(), normalize_exclude=(), normalize_method="zscore")
    )
    values = np.asarray(result.output["a"])
    assert values.mean() == pytest.approx(0.0, abs=1e-15)
    assert values.std() == pytest.approx(1.0)
    assert result.stats["a"].std == pytest.approx(np.std([1, 2, 3, 4]))


def test_normalize_none_leaves_values_and_integer_types():
    result = run(
        "a,b\n1,0.5\n3,1.5\n", PipelineOptions(zero_as_missing=(), normalize_exclude=(), normalize_method="none")
    )
    assert result.normalized == []
    assert result.dtypes == {"a": "int64", "b": "float64"}
    assert cleaned_frame(result).values.tolist() == [[1, 0.5], [3, 1.5]]


@pytest.mark.parametrize("method", ["minmax", "zscore"])
def test_constant_column_becomes_zero_and_its_correlation_is_empty(method):
    result = run(
        "a,k\n1,7\n2,7\n4,7\n", PipelineOptions(zero_as_missing=(), normalize_exclude=(), normalize_method=method)
    )
    assert np.asarray(result.output["k"]).tolist() == [0.0, 0.0, 0.0]
    assert math.isnan(result.correlation[0, 1]) and math.isnan(result.correlation[1, 1])
    assert result.correlation[0, 0] == 1.0
    assert correlation_csv(result).decode().splitlines() == [",a,k", "a,1.0,", "k,,"]


def test_excluded_integer_column_becomes_float_when_imputed_value_is_fractional():
    result = run("a,label\n1,0\n2,1\n3,\n", PipelineOptions(zero_as_missing=(), normalize_exclude=("label",)))
    assert result.imputed["label"] == 0.5
    assert result.dtypes["label"] == "float64"


def test_correlation_matches_pandas_after_imputation_on_sample():
    options = PipelineOptions()
    result = process(read_columns(lambda: SAMPLE_CSV.open("rb"), size_hint=SAMPLE_CSV.stat().st_size), options)
    frame = pd.read_csv(SAMPLE_CSV)
    zero = list(options.zero_as_missing)
    frame[zero] = frame[zero].replace(0, np.nan)
    frame = frame.fillna(frame.median())
    np.testing.assert_allclose(result.correlation, frame.corr().to_numpy(), rtol=0, atol=1e-12)
    names = pd.read_csv(io.BytesIO(correlation_csv(result)), index_col=0)
    assert list(names.columns) == list(names.index) == list(frame.columns)
    features = [c for c in frame.columns if c != "Outcome"]
    expected = (frame[features] - frame[features].min()) / (frame[features].max() - frame[features].min())
    np.testing.assert_array_equal(cleaned_frame(result)[features].to_numpy(), expected.to_numpy())


def test_cleaned_csv_keeps_full_float64_precision():
    rng = np.random.default_rng(3)
    values = rng.random(1000) * 1e3
    csv = "a\n" + "\n".join(repr(float(v)) for v in values) + "\n"
    result = run(csv)
    parsed = pacsv.read_csv(io.BytesIO(b"".join(cleaned_csv_chunks(result, batch_rows=64))))
    np.testing.assert_array_equal(parsed["a"].to_numpy(), np.asarray(result.output["a"]))


def test_cleaned_csv_batches_join_into_one_table_with_one_header():
    result = run("a,b\n" + "".join(f"{i},{i % 3}\n" for i in range(1, 200)))
    text = b"".join(cleaned_csv_chunks(result, batch_rows=16)).decode()
    assert text.splitlines()[0] == "a,b"
    assert text.count("a,b") == 1
    assert len(text.splitlines()) == 200


def test_cleaned_csv_quotes_only_what_needs_quotes_like_the_csv_module():
    source = 'id,"na,me",note,x\n1,plain,"a ""q""",0.5\n2,"x, y",plain,1e-300\n3,z,plain,-0.0\n'
    result = process(
        read_columns(opener(source.encode())),
        PipelineOptions(zero_as_missing=(), normalize_method="none", normalize_exclude=()),
    )
    text = b"".join(cleaned_csv_chunks(result, batch_rows=2)).decode()
    assert text == 'id,"na,me",note,x\n1,plain,"a ""q""",0.5\n2,"x, y",plain,1e-300\n3,z,plain,-0\n'


def test_numbers_are_written_alike_with_and_without_text_columns():
    numbers = "".join(f"{v!r},{i}\n" for i, v in enumerate(np.random.default_rng(5).normal(size=300) * 1e5))
    options = PipelineOptions(zero_as_missing=(), normalize_exclude=("n",))
    plain = process(read_columns(opener(("x,n\n" + numbers).encode())), options)
    texty = process(read_columns(opener(("x,n,t\n" + numbers.replace("\n", ",w\n")).encode())), options)
    a = b"".join(cleaned_csv_chunks(plain, batch_rows=64)).decode().splitlines()
    b = b"".join(cleaned_csv_chunks(texty, batch_rows=64)).decode().splitlines()
    assert [line + ",w" for line in a[1:]] == b[1:]


def test_summary_is_strict_json_with_statistics_before_normalization():
    result = run("a,b\n2,x\n4,\n6,x\n")
    document = summary_document(result, run_id="r1")
    assert document["missing_before_imputation"] == {"a": 0, "b": 1}
    assert document["statistics_before_normalization"]["a"] == {
        "min": 2.0,
        "max": 6.0,
        "mean": 4.0,
        "std": pytest.approx(np.std([2, 4, 6])),
    }
    assert b"NaN" not in to_json_bytes(document)
    with pytest.raises(ValueError, match="Out of range float values"):
        to_json_bytes({"bad": float("nan")})


def test_summary_names_statistics_before_and_after_imputation():
    """Issue 20: the old key held statistics after imputation (Insulin's mean 121.2 with 48.7%
    imputed to 113) and read like raw statistics; the raw ones are now beside them."""
    result = run("a,b\n1,\n2,\n3,30\n4,\n10,40\n")
    document = summary_document(result, run_id="r1")
    before, after = document["statistics_before_imputation"]["b"], document["statistics_after_imputation"]["b"]
    assert before == {"count": 2, "min": 30.0, "max": 40.0, "mean": 35.0, "std": pytest.approx(5.0, rel=1e-12)}
    assert after["mean"] == 35.0 and after["std"] == pytest.approx(np.std([35, 35, 30, 35, 40]))
    assert document["statistics_before_normalization"] == document["statistics_after_imputation"]  # deprecated alias
    assert document["statistics_before_imputation"]["a"] == {"count": 5, **document["statistics_after_imputation"]["a"]}


def test_statistics_before_imputation_match_a_direct_computation_on_the_sample():
    data = SAMPLE_CSV.read_bytes()
    raw = read_columns(opener(data))
    present = {}
    for name, values in raw.numeric.items():
        kept = values[~np.isnan(values)]
        present[name] = kept[kept != 0] if name in PipelineOptions().zero_as_missing else kept.copy()
    document = summary_document(process(raw, PipelineOptions()), run_id="r1")
    insulin = document["statistics_before_imputation"]["Insulin"]
    assert insulin["count"] == len(present["Insulin"]) < 768
    assert insulin["mean"] != pytest.approx(document["statistics_after_imputation"]["Insulin"]["mean"], rel=1e-3)
    for name, values in present.items():
        stats = document["statistics_before_imputation"][name]
        assert stats["count"] == len(values), name
        assert (stats["min"], stats["max"]) == (values.min(), values.max()), name
        assert stats["mean"] == pytest.approx(values.mean(), rel=1e-12), name
        assert stats["std"] == pytest.approx(values.std(), rel=1e-9), name


def test_invalid_options_name_the_setting():
    from handler.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="IMPUTE_STRATEGY='mode'"):
        PipelineOptions(impute_strategy="mode")
    with pytest.raises(ConfigurationError, match="NORMALIZE_METHOD='robust'"):
        PipelineOptions(normalize_method="robust")


def _present_median_cases():
    rng = np.random.default_rng(7)
    big = 300_001  # past median.SMALL: the bracketing path
    normal = rng.normal(size=big)
    normal[rng.random(big) < 0.05] = np.nan
    ties = rng.integers(0, 18, size=big).astype(float)  # Pregnancies-like: the bracket is one value
    ties[::7] = np.nan
    binary = (rng.random(big) < 0.65).astype(float)
    misleading = np.zeros(big)
    misleading[:: big // (1 << 16)] = 1e9  # every sampled row is an outlier: the bracket misses
    sorted_even = np.sort(rng.normal(size=big + 1))
    sparse = np.full(big, np.nan)
    sparse[-5:] = [5.0, 1.0, 4.0, 2.0, 3.0]  # no sampled row has a value
    return {
        "tiny odd": rng.normal(size=7),
        "tiny even": rng.normal(size=8),
        "one": np.array([3.5]),
        "normal with blanks": normal,
        "ties": ties,
        "binary": binary,
        "misleading sample": misleading,
        "sorted even": sorted_even,
        "sparse": sparse,
    }


@pytest.mark.parametrize("case", list(_present_median_cases()))
def test_median_of_present_values_is_numpys_bit_for_bit(case):
    from handler.median import median_of_present

    values = _present_median_cases()[case]
    present = values[~np.isnan(values)]
    before = values.copy()
    assert median_of_present(values, len(present)) == np.median(present)
    np.testing.assert_array_equal(values, before)  # the column is left as it was


@pytest.mark.parametrize("sample_bytes", [9, 16, 1 << 20])  # the sample's parse is the first chunk when it can be
@pytest.mark.parametrize("chunk_bytes", [5, 64, 1 << 20])
@pytest.mark.parametrize(
    "data",
    [
        b"a,b,t\n1,2,x\n3,,y\n\n5,6,z",  # blank line, no final newline
        b'a,b,t\r\n1,2,x\r\n3,,y\r\n5,6,"q,r"\r\n',  # CRLF, quoted delimiter
        b"a,b,t\r1,2,x\r3,,y\r5,6,z\r",  # CR only
        b"\xef\xbb\xbfa,b,t\n1,,x\n3,,y\n5,6,z\n",  # BOM; b blank all through a short sample
    ],
)
def test_reading_in_threaded_chunks_matches_one_read_at_any_chunk_size(monkeypatch, data, chunk_bytes, sample_bytes):
    from handler import reader

    monkeypatch.setattr(reader, "SAMPLE_BYTES", sample_bytes)
    monkeypatch.setattr(reader, "CHUNK_BYTES", chunk_bytes)
    columns = read_columns(opener(data))
    expected = pacsv.read_csv(io.BytesIO(data))
    assert columns.rows == expected.num_rows == 3
    for name in ("a", "b"):
        np.testing.assert_array_equal(columns.numeric[name], expected[name].to_numpy(zero_copy_only=False))
    assert columns.text["t"].to_pylist() == expected["t"].to_pylist()


@pytest.mark.parametrize("chunk_bytes", [7, 64, 1 << 20])
def test_whole_number_columns_read_as_int64_widen_when_a_later_chunk_has_a_fraction(monkeypatch, chunk_bytes):
    """The sample sees whole numbers (parsed as int64); later chunks bring a fraction, a number
    past int64 and blanks: each chunk is re-parsed as float64 and the values are a float parse's."""
    from handler import reader

    monkeypatch.setattr(reader, "SAMPLE_BYTES", 32)
    monkeypatch.setattr(reader, "CHUNK_BYTES", chunk_bytes)
    lines = [f"{i},{i % 5},{-i}" for i in range(300)]
    lines[150] = "2.5,99999999999999999999,7"
    lines[200] = ",,9007199254740993"  # 2**53 + 1: rounds to even as a float parse does
    data = ("a,b,c\n" + "\n".join(lines) + "\n").encode()
    columns = read_columns(opener(data), size_hint=len(data))
    expected = pacsv.read_csv(
        io.BytesIO(data), convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys("abc", pa.float64()))
    )
    assert columns.inferred == {"a": "int64", "b": "int64", "c": "int64"}
    for name in "abc":
        assert columns.numeric[name].dtype == np.float64
        np.testing.assert_array_equal(columns.numeric[name], expected[name].to_numpy(zero_copy_only=False))
    assert columns.numeric["b"][150] == 1e20 and columns.numeric["c"][200] == 2.0**53


def test_a_stream_without_readinto_reads_the_same(monkeypatch):
    """botocore's StreamingBody may only have read(): its bytes are copied into the chunk buffers."""
    from handler import reader

    class ReadOnly:
        def __init__(self, data: bytes) -> None:
            self._inner = io.BytesIO(data)

        def read(self, n: int = -1) -> bytes:
            return self._inner.read(n)

        def close(self) -> None:
            self._inner.close()

    monkeypatch.setattr(reader, "CHUNK_BYTES", 16)
    data = b"a,b\n" + b"".join(b"%d,%d.5\n" % (i, i) for i in range(500))
    columns = read_columns(lambda: ReadOnly(data), size_hint=len(data))
    assert columns.rows == 500
    np.testing.assert_array_equal(columns.numeric["b"], np.arange(500) + 0.5)
