"""Ensembles split across a real Dask cluster on loopback equal one process."""

import numpy as np
import pytest

from fastwalk.distributed import partition_walkers, simulate_ensemble
from fastwalk.engine import MemorySink, Simulation
from fastwalk.models.free import FreeBrownian

distributed = pytest.importorskip("distributed")


def _single_process(model, walkers, steps, seed, every, observe_every):
    sink = MemorySink()
    Simulation(model, walkers, steps, seed=seed, every=every, observe_every=observe_every,
               sinks=[sink], progress=False).run()
    return sink


def test_partition_walkers_covers_every_walker_once():
    blocks = partition_walkers(10, 3)
    assert blocks == [(0, 3), (3, 4), (7, 3)]
    assert sum(count for _, count in blocks) == 10
    with pytest.raises(ValueError, match="partitions"):
        partition_walkers(3, 4)


def test_dask_cluster_ensemble_matches_single_process():
    model = FreeBrownian(dim=2, diffusion=0.5, dt=0.01)
    walkers, steps, seed = 600, 120, 2024
    reference = _single_process(model, walkers, steps, seed, every=40, observe_every=30)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        result = simulate_ensemble(model, walkers, steps, seed=seed, client=client,
                                   partitions=5, every=40, observe_every=30)
    assert len(result.partitions) == 5
    # positions are per-walker streams: bit-identical however the walkers are split
    assert np.array_equal(result.frames, np.stack(reference.frames))
    assert list(result.frame_steps) == reference.frame_steps
    assert list(result.observable_steps) == reference.observable_steps
    # means are combined from per-partition sums: equal to rounding
    np.testing.assert_allclose(result.observables["msd"], reference.series("msd"), rtol=1e-12)
    np.testing.assert_allclose(result.observables["sem_msd"], reference.series("sem_msd"), rtol=1e-9)


def test_local_partitions_without_cluster_and_bad_model():
    model = FreeBrownian(dim=1, diffusion=1.0, dt=0.1)
    a = simulate_ensemble(model, 50, 20, seed=1, partitions=1, every=5)
    b = simulate_ensemble(model, 50, 20, seed=1, partitions=7, every=5)
    assert np.array_equal(a.frames, b.frames)
    with pytest.raises(TypeError, match="Model"):
        simulate_ensemble("not a model", 10, 10)


def test_lattice_per_walker_accumulators_line_up_with_walkers():
    from fastwalk.crossing import Crossing
    from fastwalk.models.lattice import LatticeWalk

    model = LatticeWalk(Crossing.lines(3), 9)
    whole = simulate_ensemble(model, 90, 400, seed=3, partitions=1, burn_in=10)
    split = simulate_ensemble(model, 90, 400, seed=3, partitions=4, burn_in=10)
    for name, value in whole.accumulators.items():
        # visit counts add; walker_* accumulators concatenate in walker order
        assert np.array_equal(split.accumulators[name], value), name
    assert split.accumulators["walker_node"].shape == (90,)
    assert np.array_equal(whole.observables["visit_counts"], split.observables["visit_counts"])
