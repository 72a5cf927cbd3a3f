"""Decoding and checking an Open Inference Protocol (KServe v2) inference request body."""

import json
import math
from dataclasses import dataclass

INTEGER_RANGES = {
    "INT8": (-(2**7), 2**7 - 1),
    "INT16": (-(2**15), 2**15 - 1),
    "INT32": (-(2**31), 2**31 - 1),
    "INT64": (-(2**63), 2**63 - 1),
    "UINT8": (0, 2**8 - 1),
    "UINT16": (0, 2**16 - 1),
    "UINT32": (0, 2**32 - 1),
    "UINT64": (0, 2**64 - 1),
}
FLOAT_DATATYPES = ("FP16", "FP32", "FP64")
# What one request may describe, checked on the shape alone before anything is built from it: a shape
# such as [1000000000, 0] holds no values, yet would make a thousand million empty rows.
MAX_ELEMENTS = 10_000_000
MAX_ROWS = 1_000_000
MAX_RANK = 16
DATATYPES = ("BOOL", *INTEGER_RANGES, *FLOAT_DATATYPES, "BYTES")


class RequestError(Exception):
    """The request is malformed; the server answers 400 with this message."""


@dataclass(frozen=True)
class InputTensor:
    name: str
    shape: tuple
    datatype: str
    rows: list  # the data nested to `shape`: rows[i] is the i-th item of the batch


@dataclass(frozen=True)
class InferenceRequest:
    id: object  # str or None
    inputs: tuple

    @property
    def batch_size(self) -> int:
        return self.inputs[0].shape[0]

    def model_input(self):
        """What predict() receives: the rows of the only input, or a dict of rows by input name."""
        if len(self.inputs) == 1:
            return self.inputs[0].rows
        return {tensor.name: tensor.rows for tensor in self.inputs}


def parse_infer_request(body: bytes) -> InferenceRequest:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:  # RecursionError: absurdly deep nesting
        raise RequestError(f"the request body is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise RequestError(
            f"the request body is a JSON {_json_type(document)}; send an object with \"inputs\""
        )
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise RequestError(f"\"id\" must be a string, got {_json_type(request_id)}")
    parameters = document.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise RequestError(f"\"parameters\" must be an object, got {_json_type(parameters)}")
    # "outputs" (which outputs to return) is accepted but has nothing to select: the model has a single
    # output tensor, output-0, which is always returned.
    outputs = document.get("outputs")
    if outputs is not None and not isinstance(outputs, list):
        raise RequestError(f"\"outputs\" must be an array, got {_json_type(outputs)}")

    raw_inputs = document.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise RequestError(
            "the request has no inputs: send \"inputs\": [{\"name\": ..., \"shape\": [...], "
            "\"datatype\": ..., \"data\": [...]}]"
        )
    inputs = tuple(_parse_input(index, raw) for index, raw in enumerate(raw_inputs))
    _check_unique_names(inputs)
    _check_same_batch_size(inputs)
    return InferenceRequest(id=request_id, inputs=inputs)


def _parse_input(index: int, raw) -> InputTensor:
    if not isinstance(raw, dict):
        raise RequestError(f"inputs[{index}] must be an object, got {_json_type(raw)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise RequestError(f"inputs[{index}] needs a \"name\" (a non-empty string)")
    label = f"input {name!r}"
    shape = _parse_shape(label, raw.get("shape"))
    datatype = raw.get("datatype")
    if datatype not in DATATYPES:
        raise RequestError(
            f"{label}: datatype {datatype!r} is not supported; use one of {', '.join(DATATYPES)}"
        )
    if "data" not in raw:
        raise RequestError(f"{label} has no \"data\"")
    flat = flatten(raw["data"])
    expected = math.prod(shape)
    if len(flat) != expected:
        raise RequestError(
            f"{label}: shape {list(shape)} holds {expected} values but \"data\" has {len(flat)}"
        )
    converted = [_converted_element(label, datatype, position, value) for position, value in enumerate(flat)]
    return InputTensor(name=name, shape=shape, datatype=datatype, rows=reshape(converted, shape))


def _parse_shape(label: str, shape) -> tuple:
    if not isinstance(shape, list) or not all(
        isinstance(size, int) and not isinstance(size, bool) and size >= 0 for size in shape
    ):
        raise RequestError(f"{label}: \"shape\" must be an array of non-negative integers, got {shape!r}")
    if not shape:
        raise RequestError(
            f"{label}: shape [] has no batch dimension; give the number of rows first, e.g. [1] or [N, ...]"
        )
    if len(shape) > MAX_RANK:
        raise RequestError(f"{label}: shape has {len(shape)} dimensions; at most {MAX_RANK} are accepted")
    if shape[0] > MAX_ROWS:
        raise RequestError(f"{label}: shape asks for {shape[0]} rows; at most {MAX_ROWS} are accepted per request")
    # Empty dimensions count as 1 here: they still make rows and lists to hold them.
    cells = 1
    for size in shape:
        cells *= max(size, 1)
        if cells > MAX_ELEMENTS:
            raise RequestError(f"{label}: shape {shape!r} describes more than {MAX_ELEMENTS} elements; send fewer per request")
    return tuple(shape)


def _converted_element(label: str, datatype: str, position: int, value):
    """The element as predict() should see it, or a RequestError naming the offending element."""
    if datatype == "BOOL":
        if isinstance(value, bool):
            return value
        problem = "is not true or false"
    elif datatype == "BYTES":
        if isinstance(value, str):
            return value
        problem = "is not a string"
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        problem = "is not a number"
    elif datatype in FLOAT_DATATYPES:
        return float(value)  # so the model sees floats for FP inputs even when JSON wrote "1"
    elif not isinstance(value, int):
        problem = "is not an integer"
    else:
        low, high = INTEGER_RANGES[datatype]
        if low <= value <= high:
            return value
        problem = f"is out of range ({low} to {high})"
    raise RequestError(f"{label}: data element {position} ({_short(value)}) {problem}, as {datatype} requires")


def flatten(data) -> list:
    """``data`` in row-major order; it may already be flat or be nested to any depth."""
    if not isinstance(data, list):
        return [data]
    flat = []
    # An explicit stack instead of recursion: the nesting depth comes from the client.
    pending = [iter(data)]
    while pending:
        for item in pending[-1]:
            if isinstance(item, list):
                pending.append(iter(item))
                break
            flat.append(item)
        else:
            pending.pop()
    return flat


def reshape(flat: list, shape: tuple) -> list:
    """Nest a row-major list to ``shape`` (whose product is ``len(flat)``)."""
    if len(shape) == 1:
        return flat
    step = math.prod(shape[1:])
    return [reshape(flat[row * step:(row + 1) * step], shape[1:]) for row in range(shape[0])]


def _check_unique_names(inputs) -> None:
    seen = set()
    for tensor in inputs:
        if tensor.name in seen:
            raise RequestError(f"input name {tensor.name!r} is used twice: give each input its own name")
        seen.add(tensor.name)


def _check_same_batch_size(inputs) -> None:
    if len({tensor.shape[0] for tensor in inputs}) > 1:
        shapes = ", ".join(f"{tensor.name} {list(tensor.shape)}" for tensor in inputs)
        raise RequestError(
            f"the inputs have different first (batch) dimensions ({shapes}): every input needs one "
            "entry per row"
        )


def _short(value, limit: int = 40) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
