"""Writes the .npy files NpyNumpyFilesTest reads; run from this folder: python3 make_files.py

Values are chosen so that the test can state them without reading NumPy: a(i) = i / 4 - 2 for
i = 0, 1, ... in C order, plus float64 values that float32 cannot hold exactly.
"""
import numpy as np
from numpy.lib import format as npformat


def values(shape, dtype):
    n = int(np.prod(shape))
    return (np.arange(n, dtype=np.float64) / 4 - 2).reshape(shape).astype(dtype)


def write(name, array, version):
    with open(name, "wb") as f:
        npformat.write_array(f, array, version=version)


# what the library reads
write("f4_v1.npy", values((2, 3, 4), np.float32), (1, 0))
write("f4_v2.npy", values((2, 3, 4), np.float32), (2, 0))
write("f4_v3.npy", values((3, 2), np.float32), (3, 0))
write("f8_v1.npy", values((2, 3, 4), np.float64), (1, 0))
write("f8_v2.npy", values((1, 2, 3, 4), np.float64), (2, 0))
write("f4_big_endian.npy", values((2, 5), ">f4"), (1, 0))
write("f8_rounding.npy", np.array([0.1, 1 / 3, 1e-40, 3.5e38, -0.0], dtype=np.float64), (1, 0))
np.save("f4_vector.npy", values((5,), np.float32))
np.save("f4_scalar.npy", np.float32(2.5))

# what it refuses, each with a message naming the problem
np.save("i4.npy", np.arange(6, dtype=np.int32).reshape(2, 3))
np.save("f2.npy", values((2, 3), np.float16))
np.save("c8.npy", np.zeros(3, dtype=np.complex64))
np.save("fortran.npy", np.asfortranarray(values((2, 3), np.float32)))
np.save("empty.npy", np.zeros((0, 3), dtype=np.float32))
np.save("object.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
