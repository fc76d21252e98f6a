"""Whether the compiled (numba) kernels run here, and which kernel a caller gets.

Both the provider's encoder and the linkage unit's scorer have a compiled kernel beside a
numpy reference that it must equal. ``auto`` picks the compiled one when numba imports; the
caller reports which one ran, so there is never a silent fall-back.
"""

from __future__ import annotations

from .defaults import KERNELS

__all__ = ["NUMBA_ERROR", "available", "numba", "resolve_kernel"]

NUMBA_ERROR: str | None = None
try:
    import numba
except Exception as e:  # pragma: no cover - numba is a dependency, but say so if it breaks
    numba = None
    NUMBA_ERROR = f"{type(e).__name__}: {e}"


def available() -> bool:
    """Whether the compiled kernels can run here."""
    return numba is not None


def resolve_kernel(kernel: str = "auto") -> str:
    """The kernel to run: ``auto`` picks numba when it can be imported, else numpy."""
    if kernel == "auto":
        return "numba" if available() else "numpy"
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be 'auto' or one of {', '.join(KERNELS)}")
    if kernel == "numba" and not available():
        raise RuntimeError(f"the numba kernel cannot run here ({NUMBA_ERROR})")
    return kernel
