"""Walker blocks (as Dask runs them) give the ensemble of one process, bit for bit."""

import matplotlib.pyplot as plt
import numpy as np

import fastwalk as fw

model = fw.LatticeWalk(fw.Crossing.lines(3), length=9)
one = fw.simulate(model, walkers=4000, steps=2000, seed=5)
blocks = fw.simulate_ensemble(model, walkers=4000, steps=2000, seed=5, partitions=4, client=None)
a, b = one.accumulators["visit_counts"], blocks.accumulators["visit_counts"]
print(f"visit counts equal: {np.array_equal(a, b)} ({a.sum()} visits, 4 blocks of 1000 walkers)")
figure, ax = plt.subplots(figsize=(5.5, 3.0))
ax.bar(np.arange(a.size) - 0.2, a, 0.4, label="one process")
ax.bar(np.arange(b.size) + 0.2, b, 0.4, label="4 walker blocks (client=None)")
ax.set_xlabel("node (0: the crossing)")
ax.set_ylabel("visits")
ax.legend(fontsize="small")
figure.tight_layout()
figure.savefig("dask.png", dpi=80)
