"""Positions of a 3-D run in two crossing planes, read back with plain h5py."""

import tempfile
from pathlib import Path

import h5py
import matplotlib.pyplot as plt

import fastwalk as fw

path = Path(tempfile.mkdtemp()) / "pot.h5"
model = fw.PotentialBrownian(fw.Crossing.from_options(None, 3, ["0", "1"]), a=1.0, center=0.5,
                             box=1.0, temperature=0.02, dt=1e-3, start="uniform")
fw.simulate(model, walkers=300, steps=2000, seed=1, every=100, observe_every=100, out=path,
            burn_in=1000, progress=False).close()
with h5py.File(path, "r") as f:
    position = f["particles/walkers/position/value"][:]
    print(f"frames x walkers x dim = {position.shape}; "
          f"description: {f['particles/walkers/position/value'].attrs['description']}")
figure = plt.figure(figsize=(4.2, 4.0))
ax = figure.add_subplot(projection="3d")
last = position[-1]
ax.scatter(last[:, 0], last[:, 1], last[:, 2], s=4)
ax.set_xlabel("x0")
ax.set_ylabel("x1")
ax.set_zlabel("x2")
ax.set_title("planes x0 = ½ and x1 = ½: the last frame", fontsize=9)
figure.tight_layout()
figure.savefig("reading.png", dpi=80)
