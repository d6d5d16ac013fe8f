"""How many bytes a quantized model's parameters need (stdlib + numpy; the script and the host share it).

An array of integer codes in the int8 (or uint8) range counts one byte per value, whatever dtype
holds them (the course keeps codes in float32 Tensors); any other array its item size per value;
a float value the quantized layers do not hold at all counts 4 bytes.
"""

from __future__ import annotations

import numpy as np


def is_byte_code(values: np.ndarray, itemsize: int) -> bool:
    """True when every value is an integer that fits one byte, or is stored in one."""
    if itemsize == 1 or not values.size:
        return True
    low, high = values.min(), values.max()
    fits = -128 <= low and high <= 127 or 0 <= low and high <= 255
    return bool(fits and np.all(values == np.round(values)))


def held_bytes(arrays: list[tuple[np.ndarray, int]]) -> int:
    """Bytes the (values, item size) arrays need."""
    return sum(values.size if is_byte_code(values, itemsize) else values.size * itemsize
               for values, itemsize in arrays)


def size_ratio(arrays: list[tuple[np.ndarray, int]], float_values: int) -> float:
    """Bytes the held arrays need, plus 4 per float value they do not hold, over 4 per float value."""
    missing = max(0, float_values - sum(values.size for values, _ in arrays))
    return (held_bytes(arrays) + 4 * missing) / (4 * float_values)
