"""``fastwalk info``: versions, threads and the JIT cache location."""

from __future__ import annotations

import click

from fastwalk.commands._common import print_json_or_text


def collect_info() -> dict:
    """Return versions of fastwalk and its stack, thread count and JIT cache location."""
    import os
    import sys
    from pathlib import Path

    import h5py
    import numba
    import numpy

    import fastwalk

    package_dir = Path(fastwalk.__file__).parent
    cache_dir = numba.config.CACHE_DIR or ""
    if cache_dir:
        cache = str(Path(cache_dir).resolve())
    elif os.access(package_dir, os.W_OK):
        cache = str(package_dir / "__pycache__") + " (beside the sources)"
    else:
        cache = "numba's user cache directory (sources are read-only)"
    return {
        "fastwalk": fastwalk.__version__,
        "python": sys.version.split()[0],
        "numba": numba.__version__,
        "numpy": numpy.__version__,
        "h5py": h5py.__version__,
        "hdf5": h5py.version.hdf5_version,
        "threads": numba.get_num_threads(),
        "max_threads": numba.config.NUMBA_NUM_THREADS,
        "threading_layer": numba.config.THREADING_LAYER,
        "jit_cache": cache,
        "dask": _dask_version(),
        "package_dir": str(package_dir),
    }


def _dask_version() -> str:
    """Return the distributed version, or how to install it."""
    try:
        import distributed
    except ImportError:
        return 'not installed (pip install "fastwalk[distributed]" for --dask)'
    return distributed.__version__


@click.command("info", epilog="Examples:\n\n  fastwalk info --json\n\n  fastwalk info --warm")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--warm", is_flag=True,
              help="First compile every model's kernels into the JIT cache (once after install, "
                   "so that no later run waits for the compiler).")
def command(json_output, warm):
    """Show versions (fastwalk, numba, numpy, h5py, HDF5, Dask), threads and the JIT cache."""
    info = collect_info()
    if warm:
        from fastwalk.api import warm_cache

        info["warmed_s"] = {kind: round(s, 2) for kind, s in warm_cache().items()}
    text = "\n".join(f"{key:<16} {value}" for key, value in info.items())
    print_json_or_text(info, json_output, text)
