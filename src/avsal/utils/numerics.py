"""CPU numerics that give the same bytes on any x86-64 machine: one place, set once per process.

Why: PyTorch's CPU results depend on the machine in three ways (measured with
``benchmarks/cpu_numerics.py``; README "Reproducible"):

* ATen picks its vectorised kernels by instruction set (DEFAULT / AVX2 / AVX512) at the first
  op; the STA training step gives other bytes under each. ``ATEN_CPU_CAPABILITY=avx2`` pins it
  (every x86-64 CPU since 2013 has AVX2; one without it runs the DEFAULT kernels and differs).
* MKL (torch's BLAS and FFT on x86) dispatches gemm and FFT by CPU and splits them by thread.
  ``MKL_CBWR`` is MKL's conditional numerical reproducibility mode; only its ``COMPATIBLE``
  branch (SSE2 code without the approximate rcpps/rsqrtps) gives the same bytes on Intel and
  AMD: every other branch (``AVX2``, ...) "is available only for Intel processors" and falls
  back to the CPU's own dispatch elsewhere. Measured: ``AVX2,STRICT`` gave other prepared audio
  features and other weights on an AMD EPYC than on an Intel Xeon. ``COMPATIBLE,STRICT`` costs
  speed (README "Reproducible" has the numbers) and buys the same bytes on every x86-64 CPU.
* oneDNN (mkldnn) convolutions JIT-compile for the CPU at hand and reduce weight gradients per
  thread: other bytes for 1 and 2 threads, and for another ISA. ``portable`` turns them off, so
  convolutions run ATen's own im2col + MKL gemm.
* ATen's full reductions to one number (``x.sum()``, and the bias gradient of a conv with one
  output channel such as STA's last deconvolution) add per-thread partial sums: other bytes
  for other thread counts. So ``portable`` also pins the intra-op thread count
  (``runtime.cpu_threads``), whatever the machine has.
* TorchInductor's on-disk kernel cache (``torch.compile``, used by the metrics engine) is not
  keyed by ``ATEN_CPU_CAPABILITY``: kernels a native run compiled for AVX-512 were found and
  run by a later portable process and failed there. ``portable`` gives compiled kernels their
  own cache folder (``TORCHINDUCTOR_CACHE_DIR``, unless the user set one).

The environment variables must be set before torch runs its first op, so the stage CLIs call
:func:`apply` after reading params and before importing any module that imports torch.
``native`` leaves everything as torch chooses (faster on big CPUs, bytes not portable). CUDA is
not affected: GPU runs are not claimed to be byte-identical with CPU runs.
"""

from __future__ import annotations

import os
import sys

__all__ = [
    "MODES",
    "PARALLEL_ENV",
    "PORTABLE_ENV",
    "apply",
    "describe",
    "ieee_sqrt",
    "portable_inductor_cache",
    "thread_share",
]

#: how many processes of this machine run side by side (set by whoever starts them together:
#: ``avsal replicates --jobs``, the tuning workers); each process takes its share of the cores
PARALLEL_ENV = "AVSAL_PARALLEL"


def thread_share(parallel: int | None = None) -> int:
    """Intra-op threads for one of ``parallel`` concurrent processes: cores // parallel, >= 1.

    Why one place: two processes that each use every core spin against each other (measured
    here: a training stage ran 20x slower beside another one). ``parallel`` defaults to
    ``$AVSAL_PARALLEL`` (1 when unset).
    """
    if parallel is None:
        raw = os.environ.get(PARALLEL_ENV, "").strip() or "1"
        try:
            parallel = int(raw)
        except ValueError:
            raise ValueError(f"${PARALLEL_ENV} must be a whole number, got {raw!r}") from None
    if parallel < 1:
        raise ValueError(f"parallel processes must be >= 1, got {parallel}")
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // parallel)


MODES = ("portable", "native")

#: the environment every portable process runs under (read by ATen and MKL at their first use)
PORTABLE_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE,STRICT"}


def portable_inductor_cache() -> str:
    """The folder of portable compiled kernels: inductor's default folder, suffixed."""
    import getpass
    import tempfile

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = str(os.getuid())
    return os.path.join(tempfile.gettempdir(), f"torchinductor_{user}_portable-avx2")


def apply(mode: str, *, threads: int) -> dict[str, str]:
    """Set the process's CPU numerics; returns what was set (for logs and MLflow tags).

    Raises RuntimeError when ``portable`` is asked after torch already ran with other settings
    (an env var read at start cannot change later): call it before importing torch users.
    """
    if mode not in MODES:
        raise ValueError(f"runtime.cpu_numerics must be one of {MODES}, got {mode!r}")
    if mode == "native":  # torch's own choices, within this process's share of the cores
        share = thread_share()
        os.environ.setdefault("OMP_NUM_THREADS", str(share))
        import torch

        torch.set_num_threads(min(torch.get_num_threads(), share))
        return {"cpu_numerics": "native", "cpu_threads": str(torch.get_num_threads())}
    if threads < 1:
        raise ValueError(f"runtime.cpu_threads must be >= 1, got {threads}")
    clash = {
        k: os.environ[k] for k, v in PORTABLE_ENV.items() if k in os.environ and os.environ[k] != v
    }
    if clash and "torch" in sys.modules:
        raise RuntimeError(
            f"portable CPU numerics need {PORTABLE_ENV}, but torch already started with {clash}"
        )
    os.environ.update(PORTABLE_ENV)
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", portable_inductor_cache())
    if threads > thread_share():  # pinned (it is part of the bytes), but say it will crowd
        print(
            f"avsal: runtime.cpu_threads={threads} is above this process's share of the cores "
            f"({thread_share()} with ${PARALLEL_ENV}={os.environ.get(PARALLEL_ENV, '1')}); "
            "processes side by side will slow each other down",
            file=sys.stderr,
        )
    os.environ["OMP_NUM_THREADS"] = str(threads)  # also for worker processes started from here
    import torch

    torch.backends.mkldnn.enabled = False
    torch.set_num_threads(threads)
    chosen = torch.backends.cpu.get_cpu_capability()
    if chosen not in ("AVX2", "DEFAULT"):  # DEFAULT: a CPU without AVX2 (its bytes differ)
        raise RuntimeError(
            f"portable CPU numerics: torch picked {chosen} kernels (it started before avsal set {PORTABLE_ENV})"
        )
    return {"cpu_numerics": "portable", "cpu_threads": str(threads), **PORTABLE_ENV}


def describe() -> dict[str, str]:
    """What this process actually runs with (checked by tests and shown by the benchmark)."""
    import torch

    return {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkl_cbwr": os.environ.get("MKL_CBWR", ""),
        "mkldnn": str(torch.backends.mkldnn.enabled),
        "threads": str(torch.get_num_threads()),
        "inductor_cache": os.environ.get("TORCHINDUCTOR_CACHE_DIR", "(torch default)"),
    }


def ieee_sqrt(x):  # type: ignore[no-untyped-def]  # torch.Tensor -> torch.Tensor, torch imported lazily
    """Correctly rounded square root: CPU tensors through numpy, others through torch.

    Why: torch's CPU ``sqrt`` of a contiguous float tensor runs MKL's vector math; under
    portable numerics (``MKL_CBWR=COMPATIBLE``) that is a kernel refining an ``rsqrtps``
    estimate, whose bits differ between Intel and AMD (and 15.6% of float32 results are not the
    correctly rounded root). numpy's ``sqrt`` is the CPU's ``sqrtps``/``sqrtpd``, exact by IEEE
    754 everywhere. CUDA's default ``sqrt`` is IEEE round-to-nearest already.
    """
    import numpy as np
    import torch

    if x.device.type != "cpu":
        return torch.sqrt(x)
    return torch.from_numpy(np.sqrt(x.detach().contiguous().numpy()))
