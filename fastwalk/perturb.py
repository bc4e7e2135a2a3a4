"""Weight initialisation and ε-perturbation on hyperspheres.

Kaiming-normal weights of a layer with fan-in ``d`` and ``D`` entries lie near
the shell ``|w| = √D·σ``; the *thin-shell* initialisation samples that sphere
exactly (a normalised Gaussian vector). An ε-perturbation of ``w0`` then draws
a point uniformly from

    {w : |w| = |w0|, |w − w0| = ε},

a (D−2)-sphere of radius ``ρ sin φ`` centered at ``w0 cos φ``, where
``ρ = |w0|`` and ``cos φ = 1 − ε²/(2ρ²)``.

The one implementation of that move is
:func:`fastwalk.sphere_move.move_on_sphere` (re-exported here), shared with
the sphere model's ``ring`` walk: a ring step is one ε-perturbation of the
current position.

Random numbers come from the per-sample xoshiro256++ streams of
:mod:`fastwalk.rng`: sample ``j`` of a call with seed ``s`` uses stream
``(s, first_sample + j)``, so results do not depend on the thread count or on
how samples are split between calls.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
from numba import prange

from fastwalk import rng, validate
from fastwalk._jit import jit, pjit
from fastwalk.sphere_move import ANTIPODE_TOLERANCE, move_on_sphere, ring_move

__all__ = [
    "GAINS",
    "INIT_STREAM",
    "layer_fan_in",
    "sphere_init",
    "perturb",
    "perturb_layers",
    "move_on_sphere",
]

#: gains of the named nonlinearities (PyTorch's ``calculate_gain``)
GAINS = {"relu": math.sqrt(2.0), "linear": 1.0, "tanh": 5.0 / 3.0}

#: stream index :func:`~fastwalk.sphere_init` draws from; perturbation samples use
#: streams 0, 1, ..., so one seed may serve both without sharing numbers
INIT_STREAM = 2**63

# below this many output entries (m × D) samples are drawn on one thread
_PARALLEL_MIN_ENTRIES = 1 << 16


@jit
def _thin_shell_kernel(states, out, radius):
    s = states[0]
    total = 0.0
    for i in range(out.shape[0]):
        g = rng.normal(s)
        out[i] = g
        total += g * g
    while total == 0.0:  # every normal exactly 0: only conceivable for tiny layers
        for i in range(out.shape[0]):
            g = rng.normal(s)
            out[i] = g
            total += g * g
    scale = radius / math.sqrt(total)
    for i in range(out.shape[0]):
        out[i] *= scale


@jit(inline="always")
def _perturb_sample(states, j, x, chord, out):
    row = out[j]
    ring_move(states[j], x, chord, row, row)


@pjit
def _perturb_kernel(states, x, chord, out):
    for j in prange(out.shape[0]):
        _perturb_sample(states, j, x, chord, out)


@jit
def _perturb_kernel_serial(states, x, chord, out):
    for j in range(out.shape[0]):
        _perturb_sample(states, j, x, chord, out)


def layer_fan_in(shape: Sequence[int]) -> int:
    """Return the fan-in of a weight of the given shape (PyTorch convention).

    A weight of shape ``(out, in, *kernel)`` (``nn.Linear``: ``(out, in)``;
    ``nn.Conv2d``: ``(out, in/groups, kh, kw)``) has fan-in
    ``in × prod(kernel)``, the number of inputs each output unit sums.

    Parameters
    ----------
    shape : sequence of int
        The weight's shape, with at least two entries.

    Returns
    -------
    int
        ``shape[1] * prod(shape[2:])``.

    Raises
    ------
    ValueError
        If ``shape`` has fewer than two entries (pass ``fan_in`` explicitly
        to :func:`~fastwalk.sphere_init` for a 1-D weight) or a non-positive entry.
    """
    shape = _validated_shape(shape)
    if len(shape) < 2:
        raise ValueError(
            f"the fan-in of a weight of shape {shape} is ambiguous (the PyTorch convention "
            "needs (out, in, *kernel)); pass fan_in= explicitly"
        )
    return int(shape[1] * math.prod(shape[2:]))


def sphere_init(
    shape: Sequence[int] | int,
    gain: str | float = "relu",
    seed: int | None = None,
    fan_in: int | None = None,
    return_seed: bool = False,
) -> np.ndarray | tuple[np.ndarray, int]:
    """Thin-shell Kaiming initialisation: a uniform point of the sphere ``|w| = √D·σ``.

    Kaiming-normal weights (entries i.i.d. ``N(0, σ²)``, ``σ = gain/√fan_in``)
    lie within a relative distance ``~1/√(2D)`` of that sphere; this draws
    ``D`` standard normals and rescales them to norm ``√D·σ`` exactly (to
    rounding), i.e. samples the sphere uniformly.

    Parameters
    ----------
    shape : int or sequence of int
        The weight's shape; ``D`` is the product of its entries. By the
        PyTorch convention a weight has shape ``(out, in, *kernel)`` and its
        fan-in is ``in × prod(kernel)`` (see :func:`~fastwalk.perturb.layer_fan_in`).
    gain : {"relu", "linear", "tanh"} or float, optional
        The nonlinearity's gain: √2 for relu (Kaiming's choice, σ² = 2/fan_in),
        1 for linear, 5/3 for tanh, or a positive number.
    seed : int or None, optional
        Seed in ``[0, 2**128)``; None draws a fresh 128-bit seed (see
        ``return_seed``). The numbers come from stream :data:`~fastwalk.perturb.INIT_STREAM` of
        the seed, which :func:`~fastwalk.perturb` never uses, so the same seed may be
        passed to both.
    fan_in : int, optional
        Override the fan-in computed from ``shape`` (required when ``shape``
        has a single entry).
    return_seed : bool, optional
        Also return the seed used, so that a run with ``seed=None`` can be
        repeated.

    Returns
    -------
    numpy.ndarray or tuple of (numpy.ndarray, int)
        The float64 weights of shape ``shape``, and the seed if
        ``return_seed``.

    Raises
    ------
    ValueError
        For an empty or non-positive shape, an unknown gain name, a
        non-positive gain or fan-in.
    TypeError
        For a seed or fan-in that is not an integer.

    Examples
    --------
    >>> w = sphere_init((256, 784), seed=1)
    >>> bool(np.isclose(np.linalg.norm(w), np.sqrt(w.size * 2 / 784)))
    True
    """
    shape = _validated_shape(shape)
    gain_value = _validated_gain(gain)
    if fan_in is None:
        fan_in_value = layer_fan_in(shape)
    else:
        fan_in_value = validate.integer("fan_in", fan_in, minimum=1)
    seed = rng.resolve_seed(seed)
    size = math.prod(shape)
    radius = math.sqrt(size) * gain_value / math.sqrt(fan_in_value)
    out = np.empty(size)
    _thin_shell_kernel(rng.seed_states(seed, INIT_STREAM, 1), out, radius)
    weights = out.reshape(shape)
    return (weights, seed) if return_seed else weights


def perturb(
    w0,
    epsilon: float,
    m: int = 1,
    relative: bool = False,
    seed: int | None = None,
    first_sample: int = 0,
    return_seed: bool = False,
) -> np.ndarray | tuple[np.ndarray, int]:
    """Draw ``m`` uniform points of the sphere ``|w| = |w0|`` at distance ``ε`` from ``w0``.

    The points are uniform on the (D−2)-sphere
    ``{w : |w| = |w0|, |w − w0| = ε}``, of radius ``ρ sin φ`` about
    ``w0 cos φ`` (``ρ = |w0|``, ``cos φ = 1 − ε²/(2ρ²)``), built by
    :func:`~fastwalk.sphere_move.move_on_sphere`: a Householder reflection applied without forming
    the matrix, stable for every direction of ``w0``. Samples run in parallel,
    each from its own random stream, so the result does not depend on the
    thread count, and samples ``first_sample .. first_sample + m − 1`` of a
    seed are the same whichever calls produce them. Memory is the output
    (``m × D`` float64) and nothing else. If ``w0`` is itself uniform on its
    sphere (e.g. from :func:`~fastwalk.sphere_init`), so is every perturbed sample.

    Parameters
    ----------
    w0 : array_like
        Baseline weights, any shape with ``D >= 2`` entries, finite and not
        all zero; the sphere is that of the flattened vector.
    epsilon : float
        Distance from ``w0``: absolute, ``0 <= ε <= 2|w0|``, or with
        ``relative=True`` a fraction of ``|w0|``, ``0 <= ε <= 2``. ``ε = 0``
        returns copies of ``w0``; ``ε = 2|w0|`` copies of ``−w0``.
    m : int, optional
        Number of samples (>= 1).
    relative : bool, optional
        Read ``epsilon`` as a fraction of ``|w0|``.
    seed : int or None, optional
        Seed in ``[0, 2**128)``; None draws a fresh 128-bit seed (see
        ``return_seed``).
    first_sample : int, optional
        Global index of the first sample: sample ``j`` uses random stream
        ``first_sample + j`` of the seed, so a large batch can be split.
    return_seed : bool, optional
        Also return the seed used.

    Returns
    -------
    numpy.ndarray or tuple of (numpy.ndarray, int)
        float64 samples of shape ``(m, *w0.shape)``, and the seed if
        ``return_seed``.

    Raises
    ------
    ValueError
        If ``w0`` has fewer than 2 entries, a non-finite entry or zero norm,
        if ``ε < 0`` or ``ε > 2|w0|`` (``> 2`` when relative), or ``m < 1``.
    TypeError
        For non-numeric ``w0`` or ``epsilon``, non-integer ``m``, ``seed`` or
        ``first_sample``.

    Examples
    --------
    >>> w0 = sphere_init((64, 32), seed=3)
    >>> w = perturb(w0, 0.1, m=4, relative=True, seed=4)
    >>> w.shape
    (4, 64, 32)
    >>> d = np.linalg.norm((w - w0).reshape(4, -1), axis=1) / np.linalg.norm(w0)
    >>> bool(np.allclose(d, 0.1))
    True
    """
    baseline, chord = _validated_baseline("w0", w0, epsilon, relative)
    m = validate.integer("m", m, minimum=1)
    first_sample = validate.integer("first_sample", first_sample, minimum=0, maximum=2**63 - 1 - m)
    seed = rng.resolve_seed(seed)
    samples = _perturb_flat(baseline.ravel(), chord, rng.seed_states(seed, first_sample, m))
    samples = samples.reshape((m, *baseline.shape))
    return (samples, seed) if return_seed else samples


def perturb_layers(
    layers: Sequence,
    epsilon: float | Sequence[float],
    relative: bool = False,
    seed: int | None = None,
    return_seed: bool = False,
) -> list[np.ndarray] | tuple[list[np.ndarray], int]:
    """Perturb each layer of a network on its own sphere.

    Layer ``k`` is moved to a uniform point at distance ``ε_k`` from it on the
    sphere ``|w| = |layers[k]|``; it is exactly ``perturb(layers[k], ε_k,
    relative=relative, seed=seed, first_sample=k)[0]``. All layers are
    checked before any is perturbed.

    Parameters
    ----------
    layers : sequence of array_like
        The layers' weights (each with at least 2 entries, finite, not zero).
    epsilon : float or sequence of float
        One distance for every layer, or one per layer; absolute, or
        fractions of each layer's norm with ``relative=True``.
    relative : bool, optional
        Read the distances as fractions of each layer's norm.
    seed : int or None, optional
        Seed in ``[0, 2**128)``; None draws a fresh 128-bit seed.
    return_seed : bool, optional
        Also return the seed used.

    Returns
    -------
    list of numpy.ndarray or tuple of (list of numpy.ndarray, int)
        The perturbed float64 layers, shapes preserved, and the seed if
        ``return_seed``.

    Raises
    ------
    ValueError
        For an empty list, a per-layer ``epsilon`` of the wrong length, or any
        layer/distance :func:`~fastwalk.perturb` would refuse (the message names the
        layer).
    TypeError
        For a ``layers`` that is not a sequence, or bad types as in
        :func:`~fastwalk.perturb`.
    """
    if isinstance(layers, (np.ndarray, str)) or not isinstance(layers, Sequence):
        raise TypeError(f"layers must be a list of arrays, got {type(layers).__name__}")
    if len(layers) == 0:
        raise ValueError("layers must hold at least one array, got an empty sequence")
    if isinstance(epsilon, numbers.Real) and not isinstance(epsilon, bool):
        epsilons = [epsilon] * len(layers)
    else:
        epsilons = list(np.atleast_1d(np.asarray(epsilon, dtype=object)).ravel())
        if len(epsilons) != len(layers):
            raise ValueError(
                f"epsilon must be one number or one per layer ({len(layers)} values), "
                f"got {len(epsilons)} values"
            )
    checked = [
        _validated_baseline(f"layers[{k}]", layer, eps, relative, eps_name=f"epsilon[{k}]")
        for k, (layer, eps) in enumerate(zip(layers, epsilons, strict=True))
    ]
    seed = rng.resolve_seed(seed)
    perturbed = [
        _perturb_flat(baseline.ravel(), chord, rng.seed_states(seed, k, 1)).reshape(baseline.shape)
        for k, (baseline, chord) in enumerate(checked)
    ]
    return (perturbed, seed) if return_seed else perturbed


def _perturb_flat(baseline, chord, states):
    out = np.empty((states.shape[0], baseline.shape[0]))
    # waking the thread pool costs ~0.1–1 ms; both kernels give identical bits
    kernel = _perturb_kernel if out.size >= _PARALLEL_MIN_ENTRIES else _perturb_kernel_serial
    kernel(states, baseline, chord, out)
    return out


def _validated_shape(shape):
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        entries = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be an int or a sequence of ints, got {shape!r}") from None
    if not entries:
        raise ValueError("shape must have at least one entry, got ()")
    return tuple(validate.integer(f"shape[{k}]", n, minimum=1) for k, n in enumerate(entries))


def _validated_gain(gain):
    if isinstance(gain, str):
        validate.choice("gain", gain, GAINS)
        return GAINS[gain]
    if isinstance(gain, bool) or not isinstance(gain, numbers.Real):
        names = ", ".join(GAINS)
        raise TypeError(f"gain must be one of {names} or a positive number, got {gain!r}")
    return validate.real("gain", gain, minimum=0.0, strict_min=True)


def _validated_baseline(name, w0, epsilon, relative, eps_name="epsilon"):
    """Check a baseline and its distance; return (float64 array, absolute chord)."""
    baseline = validate.finite_array(name, w0)
    if baseline.size < 2:
        raise ValueError(
            f"{name} must have at least 2 entries (the sphere of a single number is two points), "
            f"got shape {baseline.shape}"
        )
    if not np.any(baseline):
        raise ValueError(f"{name} must not be all zeros: a zero vector has no sphere to move on")
    with np.errstate(over="ignore", under="ignore"):
        radius = float(np.linalg.norm(baseline.ravel()))
    # the kernels work with |w0|², which must be a normal, finite float
    if not math.isfinite(radius * radius):
        raise ValueError(f"{name} is too large: its squared norm overflows float64; rescale it")
    if radius * radius < np.finfo(np.float64).tiny:
        raise ValueError(f"{name} is too small: its squared norm underflows float64; rescale it")
    if relative:
        fraction = validate.real(eps_name, epsilon, minimum=0.0)
        if fraction > 2.0 * (1.0 + ANTIPODE_TOLERANCE):
            raise ValueError(
                f"{eps_name} = {fraction:g} is a fraction of |{name}| with relative=True and must "
                "be <= 2 (the sphere's diameter)"
            )
        chord = fraction * radius
    else:
        chord = validate.real(eps_name, epsilon, minimum=0.0)
        if chord > 2.0 * radius * (1.0 + ANTIPODE_TOLERANCE):
            raise ValueError(
                f"{eps_name} = {chord:g} exceeds the sphere's diameter "
                f"2|{name}| = {2.0 * radius:g}; no point of the sphere is that far "
                "(pass relative=True for a fraction of the norm)"
            )
    return baseline, chord
