"""Process set-up for fast CPU training, applied by every binary before TF loads.

Measured on the project's 2-core AMD EPYC VM (benchmarks/README.md; each benchmark file records its machine):
- `TF_ENABLE_ONEDNN_OPTS=1`: TF leaves oneDNN off on this CPU; turning it on
  makes the `[rows, 100] x [100, 43097]` scoring matmul ~1.5x faster.
- `GLIBC_TUNABLES` (hugetlb=1, mmap_max=0, large trim_threshold): TF allocates
  and frees 100+ MB score tensors every step; glibc serves them with fresh
  mmaps, so every step pays page faults (an elementwise op on 170 MB: 75 ms vs
  14 ms with memory reused). glibc reads tunables only at process start, so the
  binary re-executes itself once with them set.

TensorFlow's native libraries print start-up notices straight to the stderr
file descriptor before any log level applies, twice (two libraries each
initialise logging), and on a machine without an NVIDIA driver an `E0000 ...
failed call to cuInit` line that looks like an error. `configure_process`
imports TensorFlow with those known notices filtered out; every other line
still reaches stderr.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile

GLIBC_TUNABLES = "glibc.malloc.hugetlb=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"
_REEXEC_MARK = "TAGNN_RUNTIME_CONFIGURED"

# Start-up notices of TensorFlow's native libraries that say nothing actionable.
_STARTUP_NOTICES = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
    "Could not find cuda drivers on your machine",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions:",
)
# Expected, and harmless, when the machine has no NVIDIA driver at all.
_NO_DRIVER_NOTICES = ("failed call to cuInit",)


def configure_process(reexec: bool = True, import_tensorflow: bool = True) -> None:
    """Sets TF/allocator environment; may re-exec the current command once;
    then imports TensorFlow without its start-up notices.

    Call before importing TensorFlow. Set `TAGNN_NO_REEXEC=1` to skip the
    re-exec (the allocator settings then apply only if already in the env).
    """
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if (reexec and os.environ.get("TAGNN_NO_REEXEC") != "1" and not os.environ.get(_REEXEC_MARK)
            and platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
            and "GLIBC_TUNABLES" not in os.environ):
        env = dict(os.environ, GLIBC_TUNABLES=GLIBC_TUNABLES, **{_REEXEC_MARK: "1"})
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, list(sys.orig_argv), env)
    if import_tensorflow:
        import_tensorflow_quietly()


def _is_startup_notice(line: str, has_nvidia_driver: bool) -> bool:
    if any(n in line for n in _STARTUP_NOTICES):
        return True
    return not has_nvidia_driver and any(n in line for n in _NO_DRIVER_NOTICES)


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow and lists its GPUs with stderr captured, then writes
    back every captured line except the known start-up notices."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # initialises CUDA (or fails to) now
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            has_driver = os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia")
            kept = [line for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True)
                    if not _is_startup_notice(line, has_driver)]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()
