"""Loading an edge list: fastwalk's reader beside python-igraph, csrgraph and networkx.

Run with ``pytest benchmarks/peers/test_peer_load.py -s``. The files are
written by the benchmark (not committed): ``u v`` lines of a random graph on
10^6 nodes, integer labels, 10^7 edges (131 MiB) and a 10^6-edge prefix
(10^5-node labels are not guaranteed: the prefix holds whatever labels its
lines name). Figures: CPU ns per edge (load to a walkable graph, best of
the repeats) and the resident memory the load added at its peak, against
the CSR's own size (``indptr`` + ``indices``, int64).

- fastwalk: ``GraphWalk.from_edgelist`` (labels kept as strings, the CSR
  checked, as ``fastwalk graph`` does), and on the small file the Python
  reader that defines the format (what ``from_edgelist`` was before);
- igraph: ``Graph.Read_Ncol`` (labels as vertex names);
- csrgraph: ``csrgraph.read_edgelist`` (pandas, labels kept);
- networkx: ``read_edgelist`` (small file only: ~10 GB for 10^7 edges).
"""

from __future__ import annotations

import numpy as np
import pytest
from peerlib import FASTWALK, measure, peer, record, skipped, version

from fastwalk._jit import jit
from fastwalk.models import _edgelist
from fastwalk.models.graph import GraphWalk

NODES = 10**6
UNIT = "edge"


@jit(cache=False)
def _format(u, v):
    """The lines ``"u v\\n"`` as bytes (decimal, no padding)."""
    out = np.empty(u.shape[0] * 16, dtype=np.uint8)
    at = 0
    digits = np.empty(20, dtype=np.uint8)
    for k in range(u.shape[0]):
        for j, value in enumerate((u[k], v[k])):
            count = 0
            while True:
                digits[count] = 48 + value % 10
                value //= 10
                count += 1
                if value == 0:
                    break
            for d in range(count - 1, -1, -1):
                out[at] = digits[d]
                at += 1
            out[at] = 32 if j == 0 else 10
            at += 1
    return out[:at]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    generator = np.random.default_rng(3)
    u = generator.integers(0, NODES, 10**7)
    v = (u + generator.integers(1, NODES, 10**7)) % NODES
    folder = tmp_path_factory.mktemp("edges")
    paths = {}
    for edges in (10**6, 10**7):
        paths[edges] = folder / f"random-{edges:.0e}.txt"
        _format(u[:edges], v[:edges]).tofile(paths[edges])
    return paths


@pytest.mark.parametrize("edges", [10**6, 10**7])
def test_load_edgelist(files, edges):
    path = files[edges]
    job = f"load-edgelist-{edges:.0e}".replace("+0", "")
    repeat = 3 if edges <= 10**6 else 1  # a warm-up call (memory) and the timed ones
    walk = GraphWalk.from_edgelist(path)
    csr_mib = (walk.indptr.nbytes + walk.indices.nbytes) / 2**20
    del walk
    timing = measure(lambda: GraphWalk.from_edgelist(path), edges, repeat=repeat)
    record(job, FASTWALK, timing, unit=UNIT,
           note=f"from_edgelist; CSR {csr_mib:.0f} MiB, peak {timing.peak / csr_mib:.1f}x it")
    if edges <= 10**6:
        record(job, f"{FASTWALK} Python reader (before)",
               measure(lambda: _edgelist._read_python(str(path)), edges, repeat=1), unit=UNIT,
               note="the defining per-line reader, CSR only")
    igraph = peer("igraph", "python-igraph")
    if igraph is None:
        skipped(job, "igraph", "python-igraph", unit=UNIT)
    else:
        record(job, f"igraph {version('python-igraph')}",
               measure(lambda: igraph.Graph.Read_Ncol(str(path), directed=False), edges,
                       repeat=repeat), unit=UNIT, note="Graph.Read_Ncol (names kept)")
    csrgraph = peer("csrgraph")
    if csrgraph is None:
        skipped(job, "csrgraph", unit=UNIT)
    else:
        record(job, f"csrgraph {version('csrgraph')}",
               measure(lambda: csrgraph.read_edgelist(str(path), directed=False), edges,
                       repeat=repeat), unit=UNIT, note="read_edgelist (pandas)")
    nx = peer("networkx")
    if nx is None:
        skipped(job, "networkx", unit=UNIT)
    elif edges > 10**6:
        skipped(job, "networkx", unit=UNIT, reason="needs ~10 GB for 10^7 edges; not run")
    else:
        record(job, f"networkx {version('networkx')}",
               measure(lambda: nx.read_edgelist(str(path)), edges, repeat=1), unit=UNIT,
               note="read_edgelist")
