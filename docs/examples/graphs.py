"""A walk on a small-world graph visits each node in proportion to its degree."""

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp

import fastwalk as fw
from fastwalk.graph_laws import stationary_law

# a Watts-Strogatz small world: a ring of 200 nodes, each joined to its 3 nearest on either side,
# then 30% of the edges rewired to a random end (SciPy only, so the docs extra is enough)
rng = np.random.default_rng(1)
nodes = 200
u = np.repeat(np.arange(nodes), 3)
v = (u + np.tile([1, 2, 3], nodes)) % nodes
rewire = rng.random(u.size) < 0.3
v[rewire] = rng.integers(0, nodes, rewire.sum())
keep = u != v
adjacency = sp.coo_matrix((np.ones(keep.sum()), (u[keep], v[keep])), shape=(nodes, nodes))
walk = fw.GraphWalk.from_scipy(((adjacency + adjacency.T) > 0).astype(float).tocsr())  # simple graph
run = fw.simulate(walk, walkers=2000, steps=2000, seed=1, burn_in=100)
visits = run.accumulators["visit_counts"]
frequency = visits / visits.sum()
law = stationary_law(walk.indptr, walk.indices, walk.weights)
print(f"{walk.nodes} nodes, degrees {np.diff(walk.indptr).min()}.."
      f"{np.diff(walk.indptr).max()}; total variation to the degree law "
      f"{0.5 * np.abs(frequency - law).sum():.4f}")
figure, ax = plt.subplots(figsize=(5.0, 3.6))
degree = np.diff(walk.indptr)
ax.scatter(degree + np.random.default_rng(0).uniform(-0.15, 0.15, degree.size), frequency, s=8,
           label="visit frequency per node")
grid = np.arange(degree.min(), degree.max() + 1)
ax.plot(grid, grid / degree.sum(), "k-", lw=1, label="exact: degree / Σ degree")
ax.set_xlabel("degree")
ax.set_ylabel("visit frequency")
ax.set_title("Watts–Strogatz graph, 200 nodes", fontsize=10)
ax.legend(fontsize="small")
figure.tight_layout()
figure.savefig("graphs.png", dpi=80)
