"""What machine a speed figure comes from: CPUs differ, so every figure names its own."""

import os
import platform


def machine() -> str:
    """The CPU model, its vector extensions (speed differs between CPUs), cores and Python."""
    model, ext = platform.processor() or platform.machine(), []
    try:
        with open("/proc/cpuinfo") as fh:
            info = fh.read().splitlines()
        model = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), model)
        flags = next((ln.split(":", 1)[1].split() for ln in info if ln.startswith("flags")), [])
        ext = [f for f in ("avx2", "avx512f", "avx512_vpopcntdq") if f in flags]
    except OSError:
        pass
    return (f"{model} ({', '.join(ext) or 'no AVX2'}), {os.cpu_count()} cores, "
            f"Python {platform.python_version()}")
