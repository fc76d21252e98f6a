"""Default settings, written once for the library and the command line.

This module imports nothing, so ``linkage --help`` can show every default without loading
numpy or polars. The library's functions and the CLI's options both read these names.
"""

# --- at a data provider -------------------------------------------------------------------
KEY_BYTES = 32  # length of a key made by `linkage keygen`
MIN_KEY_BYTES = 16  # shorter keys are refused
TEXT_ENCODING = "utf-8"  # of a CSV extract
DELIMITER = ","  # between the fields of a CSV extract
REJECTS_SUFFIX = ".rejects.csv"  # default rejects file: OUT (without .enc.parquet) + this
ENCODED_SUFFIX = ".enc.parquet"

# --- at the linkage unit ------------------------------------------------------------------
KERNEL = "auto"  # auto picks numba where it runs, else numpy
KERNELS = ("numba", "numpy")
REVIEW_WIDTH = 0.05  # width of the 'possible' band below the threshold
FLOOR = 0.4  # lowest score kept when the threshold is estimated
TOP_K = 5  # candidates kept per record of A: memory grows with len(A), not len(A) * len(B)
BLOCKING = "auto"  # auto: from BLOCK_ABOVE pairs (A x B), keys if both files carry them, else lsh if it pays
BLOCKINGS = ("auto", "lsh", "keys", "none")
BLOCK_ABOVE = 2e9

# --- for researchers ----------------------------------------------------------------------
SYNTH_RECORDS = 10_000  # records of provider A in synthetic data and the demo
SYNTH_MIN_RECORDS = 1
SEED = 0
DEMO_DIR = "demo-out"
CURVE_MIN_SCORE = 0.3  # the demo keeps links down to this score, so its plots show whole curves
