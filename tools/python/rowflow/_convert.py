"""Turning what users pass to Session.run into rows rowflow can read.

The C++ side takes C-contiguous, aligned arrays of the model's dtype as they
are (no copy); everything else comes here first and is converted the way
numpy converts, or refused with rowflow.InputError.
"""

import numpy as np

from rowflow._rowflow import InputError

# Kinds numpy converts to floats without losing meaning: bool, int, uint, float.
_NUMERIC_KINDS = "biuf"


def _frame_to_array(frame, dtype):
    for name, column_dtype in zip(frame.columns, frame.dtypes):
        if getattr(column_dtype, "kind", "O") not in _NUMERIC_KINDS:
            raise InputError(
                f"DataFrame column {str(name)!r} has dtype {column_dtype}; "
                "expected numbers (convert it, or select the feature columns)")
    try:
        return frame.to_numpy(dtype=dtype)
    except (ValueError, TypeError):
        pass
    # Nullable columns (Int64, Float64, boolean) holding pd.NA: as the CLI
    # refuses an empty field unless --na says it is NaN.
    for position, name in enumerate(frame.columns):
        column = frame.iloc[:, position]
        if column.isna().any():
            row = int(column.isna().to_numpy().argmax()) + 1
            raise InputError(
                f"DataFrame column {str(name)!r} row {row} is missing "
                f"({column.dtype}); expected numbers (fill it, or convert "
                "it with .astype(float) to run it as NaN)")
    raise InputError("DataFrame: not rows of numbers")


def as_rows(x, dtype, width):
    """Returns (rows, one_row): `x` as a C-contiguous (n, width) array of
    `dtype`, and whether it was one 1-D row."""
    if hasattr(x, "dtypes") and hasattr(x, "columns") and hasattr(x, "to_numpy"):
        x = _frame_to_array(x, dtype)
    try:
        a = np.asarray(x)
    except (ValueError, TypeError) as e:
        raise InputError(f"input: not rows of numbers ({e})") from None
    if a.dtype.kind not in _NUMERIC_KINDS:
        what = "object" if a.dtype.kind == "O" else str(a.dtype)
        raise InputError(
            f"input: expected numbers, got an array of dtype {what}"
            + ("; convert it with .astype(float)" if a.dtype.kind in "OSU" else ""))
    if a.ndim == 0:
        raise InputError(
            f"input: expected rows of {width} numbers (a 2-D array, or one "
            "1-D row); got a scalar")
    if a.ndim > 2:
        raise InputError(
            f"input: expected a 2-D array (rows, {width}) or one 1-D row; "
            f"got shape {a.shape}")
    one_row = a.ndim == 1
    if one_row:
        if a.shape[0] == 0:
            # An empty list of rows: no rows at all.
            one_row = False
            a = a.reshape(0, width)
        else:
            a = a.reshape(1, -1)
    if a.shape[1] != width:
        hint = ""
        if one_row and width == 1:
            hint = f"; for {a.shape[1]} rows of one column pass x.reshape(-1, 1)"
        raise InputError(
            f"expected {width} columns per row, got {a.shape[1]}{hint}")
    return np.require(a, dtype=dtype, requirements=["C", "A"]), one_row
