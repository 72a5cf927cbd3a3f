"""Turning what predict() returned into an Open Inference Protocol output tensor."""

import math

OUTPUT_NAME = "output-0"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class PredictionOutputError(Exception):
    """predict() returned something that is not one JSON-encodable prediction per row (answered 500)."""


def prediction_rows(returned, expected_rows: int) -> list:
    """Check that predict() returned one prediction per input row; numpy values become plain Python."""
    rows = to_plain(returned)
    if not isinstance(rows, list):
        raise PredictionOutputError(
            f"predict() returned a {type(returned).__name__}; return a list (or array) with one "
            "prediction per input row"
        )
    if len(rows) != expected_rows:
        raise PredictionOutputError(
            f"predict() returned {len(rows)} predictions for {expected_rows} input rows; return one "
            "prediction per row"
        )
    return rows


def to_plain(value):
    """``value`` with numpy arrays and scalars (anything with .tolist()) and tuples turned into lists
    and Python scalars, without importing numpy."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    return value


def output_tensor(rows: list) -> dict:
    """The output tensor for the concatenated predictions of every row of the request."""
    shape = _shape_of(rows)
    flat = _flatten_to_depth(rows, len(shape))
    datatype, data = _typed_data(flat)
    return {"name": OUTPUT_NAME, "shape": list(shape), "datatype": datatype, "data": data}


def _shape_of(value) -> tuple:
    if not isinstance(value, list):
        return ()
    if not value:
        return (0,)
    inner = _shape_of(value[0])
    for position, item in enumerate(value[1:], start=1):
        if _shape_of(item) != inner:
            raise PredictionOutputError(
                f"predict() returned predictions of different shapes ({list(inner)} and "
                f"{list(_shape_of(item))} at position {position}); every row's prediction needs the same shape"
            )
    return (len(value),) + inner


def _flatten_to_depth(rows: list, depth: int) -> list:
    flat = rows
    for _ in range(depth - 1):
        flat = [item for sublist in flat for item in sublist]
    return flat


def _typed_data(flat: list) -> tuple:
    """(datatype, data) for the flat values: BOOL, INT64, FP64 or BYTES, whichever holds them all."""
    if not flat:
        return "FP64", []
    kinds = {_kind(position, value) for position, value in enumerate(flat)}
    if kinds == {"bool"}:
        return "BOOL", flat
    if kinds == {"int"}:
        return "INT64", flat
    if kinds <= {"int", "float"}:
        return "FP64", [float(value) for value in flat]
    if kinds == {"str"}:
        return "BYTES", [value.decode("utf-8") if isinstance(value, bytes) else value for value in flat]
    raise PredictionOutputError(
        f"predict() returned a mix of {' and '.join(sorted(kinds))} values; return values of one kind "
        "(all numbers, all booleans or all strings)"
    )


def _kind(position: int, value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise PredictionOutputError(
                f"predict() returned {value} at position {position}, which does not fit in INT64"
            )
        return "int"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PredictionOutputError(
                f"predict() returned {value} at position {position}; JSON cannot carry NaN or infinity"
            )
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, bytes):
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            raise PredictionOutputError(
                f"predict() returned bytes that are not UTF-8 at position {position}; return text"
            ) from None
        return "str"
    raise PredictionOutputError(
        f"predict() returned a {type(value).__name__} at position {position}; return numbers, booleans "
        "or strings (nested lists of them are fine)"
    )
