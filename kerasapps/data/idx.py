"""Reader for the IDX files that MNIST and Fashion-MNIST are distributed in."""

import gzip
import os
import zlib

import numpy as np

from kerasapps.errors import UserError

# IDX type codes (third byte of the magic number) -> NumPy dtype, big-endian.
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Read an IDX file (optionally gzip-compressed) into a NumPy array.

    Raises:
        UserError: the file is missing, truncated or not IDX; the message names it. Not a
            `DatasetUnavailable`: a copy the user pointed at that cannot be read is an error
            to fix, never a reason to fall back to another dataset.
    """
    if not os.path.exists(path):
        raise UserError(f"Missing file {path}: the IDX folder needs all four files.")
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as error:
        raise UserError(f"Cannot read {path}: {error}. Download the file again.") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise UserError(f"{path} is not an IDX file (bad magic number). Download the file again.")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise UserError(
            f"{path} is corrupt: its header promises shape {shape} ({expected} bytes) but it holds {len(raw)} bytes. "
            "Download the file again."
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))
