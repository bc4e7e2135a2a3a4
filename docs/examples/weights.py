"""Thin-shell initialisation and ε-perturbation: exact norms where Kaiming-normal only concentrates."""

import matplotlib.pyplot as plt
import numpy as np

import fastwalk as fw

shape, draws = (64, 128), 400
sigma = np.sqrt(2 / shape[1])
radius = np.sqrt(np.prod(shape)) * sigma
rng = np.random.default_rng(0)
kaiming = [np.linalg.norm(rng.normal(0, sigma, shape)) / radius for _ in range(draws)]
shell = [np.linalg.norm(fw.sphere_init(shape, seed=s)) / radius for s in range(draws)]
w0 = fw.sphere_init(shape, seed=0)
ws = fw.perturb(w0, 0.1, m=draws, relative=True, seed=1)
distance = np.linalg.norm(ws - w0, axis=(1, 2)) / np.linalg.norm(w0)
norm = np.linalg.norm(ws, axis=(1, 2)) / np.linalg.norm(w0)
print(f"|w|/(√D·σ): Kaiming-normal {np.mean(kaiming):.4f} ± {np.std(kaiming):.4f}, "
      f"thin shell {np.mean(shell):.6f} ± {np.std(shell):.1e}")
print(f"perturbations: |w|/|w0| within {np.abs(norm - 1).max():.1e} of 1, "
      f"|w − w0|/|w0| within {np.abs(distance - 0.1).max():.1e} of 0.1")
figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
left.hist(kaiming, bins=30, label="Kaiming-normal")
left.axvline(1.0, color="C1", lw=2, label="thin shell (all draws)")
left.set_xlabel("|w| / (√D·σ)")
left.legend(fontsize="small")
steps = (ws - w0).reshape(draws, -1)
steps -= steps.mean(axis=0)                       # the common part along w0
unit = steps / np.linalg.norm(steps, axis=1, keepdims=True)
pairs = (unit[: draws // 2] * unit[draws // 2:]).sum(axis=1)
right.hist(pairs, bins=25, density=True, label="pairs of perturbations")
grid = np.linspace(pairs.min(), pairs.max(), 100)
spread = 1 / np.sqrt(w0.size - 2)
right.plot(grid, np.exp(-grid**2 / (2 * spread**2)) / (spread * np.sqrt(2 * np.pi)),
           label="uniform directions: N(0, 1/(D−2))")
right.set_xlabel("cosine between two displacements w − w0")
right.legend(fontsize="small")
figure.tight_layout()
figure.savefig("weights.png", dpi=80)
