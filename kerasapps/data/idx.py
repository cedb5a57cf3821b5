"""Reader for the IDX files that MNIST and Fashion-MNIST are distributed in."""

import gzip
import os

import numpy as np

from kerasapps.errors import DatasetUnavailable

# IDX type codes (third byte of the magic number) -> NumPy dtype, big-endian.
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Read an IDX file (optionally gzip-compressed) into a NumPy array.

    Raises:
        DatasetUnavailable: the file is missing, truncated or not IDX; the message names it.
    """
    if not os.path.exists(path):
        raise DatasetUnavailable(f"missing file {path}")
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as error:
        raise DatasetUnavailable(f"cannot read {path}: {error}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DatasetUnavailable(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DatasetUnavailable(
            f"{path} is corrupt: its header promises shape {shape} ({expected} bytes) but it holds {len(raw)} bytes"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))
