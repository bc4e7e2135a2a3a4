"""A walk on a small-world graph visits each node in proportion to its degree."""

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np

import fastwalk as fw
from fastwalk.graph_laws import stationary_law

graph = nx.connected_watts_strogatz_graph(200, 6, 0.3, seed=1)
walk = fw.GraphWalk.from_networkx(graph, weight=None)
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
