"""Process set-up for fast CPU training, applied by every binary before TF loads.

Measured on the 2-core Zen 5 machine (benchmarks/README.md, issue notes):
- `TF_ENABLE_ONEDNN_OPTS=1`: TF leaves oneDNN off on this CPU; turning it on
  makes the `[rows, 100] x [100, 43097]` scoring matmul ~1.5x faster.
- `GLIBC_TUNABLES` (hugetlb=1, mmap_max=0, large trim_threshold): TF allocates
  and frees 100+ MB score tensors every step; glibc serves them with fresh
  mmaps, so every step pays page faults (an elementwise op on 170 MB: 75 ms vs
  14 ms with memory reused). glibc reads tunables only at process start, so the
  binary re-executes itself once with them set.
"""

from __future__ import annotations

import os
import platform
import sys

GLIBC_TUNABLES = "glibc.malloc.hugetlb=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"
_REEXEC_MARK = "TAGNN_RUNTIME_CONFIGURED"


def configure_process(reexec: bool = True) -> None:
    """Sets TF/allocator environment; may re-exec the current command once.

    Call before importing TensorFlow. Set `TAGNN_NO_REEXEC=1` to skip the
    re-exec (the allocator settings then apply only if already in the env).
    """
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not reexec or os.environ.get("TAGNN_NO_REEXEC") == "1" or os.environ.get(_REEXEC_MARK):
        return
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or "GLIBC_TUNABLES" in os.environ:
        return
    env = dict(os.environ, GLIBC_TUNABLES=GLIBC_TUNABLES, **{_REEXEC_MARK: "1"})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, list(sys.orig_argv), env)
