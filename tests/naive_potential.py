"""Pure-NumPy Euler–Maruyama reference for the potential model.

Vectorised over walkers, one Python iteration per step, written from the
model's definition (fastwalk/models/potential.py docstring) and fed the same
normals as the kernel: each walker's stream gives D normals per step in
coordinate order, so ``rng.draws(states, steps * D)`` reshaped to
``(walkers, steps, D)`` is exactly what the kernel consumes.
"""

from __future__ import annotations

import numpy as np


def minimum_image(d, box):
    """Return the differences ``d`` (in (-box, box)) as minimum images."""
    half = 0.5 * box
    return np.where(d > half, d - box, np.where(d < -half, d + box, d))


def wrap(x, box):
    """Map ``x`` into [0, box); non-finite entries become NaN."""
    x = np.where(x < 0.0, x + box, np.where(x >= box, x - box, x))
    far = ~((x >= 0.0) & (x < box))
    if far.any():
        y = x - box * np.floor(x / box)
        y = np.where(y < 0.0, y + box, y)
        y = np.where(y >= box, 0.0, y)
        x = np.where(far, y, x)
    return x


def valley_index(d, pins):
    """Return, per walker, the valley with the smallest Σ_{j∈S_k} d_j² (ties: lowest k)."""
    best = np.zeros(d.shape[0], dtype=np.int64)
    best_q = np.full(d.shape[0], np.inf)
    for k, pinned in enumerate(pins):
        q = np.zeros(d.shape[0])
        for j in pinned:
            q = q + d[:, j] * d[:, j]
        better = q < best_q
        best = np.where(better, k, best)
        best_q = np.where(better, q, best_q)
    return best, best_q


def energy(x, pins, center, box, a, confine):
    """Return U at each row of ``x``."""
    d = minimum_image(x - center, box)
    _, best_q = valley_index(d, pins)
    total = a * best_q
    if confine > 0.0:
        ripple = (1.0 - np.cos(2.0 * np.pi / box * d)).sum(axis=1)
        total = total + confine * box * box / (2.0 * np.pi * np.pi) * ripple
    return total


def step(x, normals, pins, center, box, a, confine, dt, temperature):
    """Return the positions after one Euler–Maruyama step (``normals``: ``(walkers, D)``)."""
    d = minimum_image(x - center, box)
    best, _ = valley_index(d, pins)
    two_a = 2.0 * a
    force = np.zeros_like(x)
    for k, pinned in enumerate(pins):
        for j in pinned:
            force[:, j] = np.where(best == k, two_a * d[:, j], force[:, j])
    if confine > 0.0:
        force = force + confine * box / np.pi * np.sin(2.0 * np.pi / box * d)
    noise = np.sqrt(2.0 * temperature * dt)
    return wrap(x - dt * force + noise * normals, box)


def bin_counts(x, box, bins):
    """Return (histogram of coordinates 0 and 1 [bins][bins], marginals [D][bins]) of ``x``."""
    index = np.minimum((x * (bins / box)).astype(np.int64), bins - 1)
    histogram = np.zeros((bins, bins), dtype=np.int64)
    np.add.at(histogram, (index[:, 0], index[:, 1]), 1)
    marginals = np.zeros((x.shape[1], bins), dtype=np.int64)
    for j in range(x.shape[1]):
        np.add.at(marginals[j], index[:, j], 1)
    return histogram, marginals


def run(x, normals, pins, center, box, a, confine, dt, temperature, bins):
    """Run ``normals.shape[1]`` steps from ``x``.

    Returns
    -------
    trajectory : numpy.ndarray
        ``(steps, walkers, D)`` positions after each step.
    histogram, marginals : numpy.ndarray
        Counts of every step's positions, as the model accumulates them.
    """
    trajectory = []
    histogram = np.zeros((bins, bins), dtype=np.int64)
    marginals = np.zeros((x.shape[1], bins), dtype=np.int64)
    for i in range(normals.shape[1]):
        x = step(x, normals[:, i, :], pins, center, box, a, confine, dt, temperature)
        trajectory.append(x)
        h, m = bin_counts(x, box, bins)
        histogram += h
        marginals += m
    return np.array(trajectory), histogram, marginals
