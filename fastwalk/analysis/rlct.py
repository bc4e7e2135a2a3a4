"""Exact learning coefficients of models whose answer is known in closed form.

**Reduced-rank regression** (Aoyagi & Watanabe, "Stochastic complexities of reduced rank
regression in Bayesian estimation", *Neural Networks* 18 (2005) 924–933, Theorem 1; the same
formula is in the R package ``sBIC``, Drton & Plummer 2017). The model y = B·A·x with
A of shape H × M, B of shape N × H, and the true W0 = B0·A0 of rank r ≤ H; the Kullback–Leibler
distance is proportional to |B·A − W0|² (Gaussian noise, identity input covariance). With
the prior positive at the true parameters, the real log canonical threshold λ and its order m are:

1. N + r ≤ M + H, M + r ≤ N + H and H + r ≤ M + N:
   λ = [2(H + r)(M + N) − (M − N)² − (H + r)² + s] / 8 with s = 0 and m = 1 when M + H + N + r
   is even, s = 1 and m = 2 when it is odd;
2. M + H < N + r: λ = (HM − Hr + Nr)/2, m = 1;
3. N + H < M + r: λ = (HN − Hr + Mr)/2, m = 1;
4. M + N < H + r: λ = MN/2, m = 1.

The cases are exhaustive and exclusive: when the first case fails, one of its inequalities
is reversed, which is case 2, 3 or 4; two reversed at once would add up to r > H, r > M or
r > N, impossible for a rank r ≤ min(M, H, N).
"""

from __future__ import annotations

from fractions import Fraction

from fastwalk import validate

__all__ = ["reduced_rank_regression"]


def reduced_rank_regression(inputs: int, hidden: int, outputs: int, rank: int = 0) -> dict:
    """Return Aoyagi & Watanabe's λ and m of reduced-rank regression (module docstring).

    Parameters
    ----------
    inputs : int
        M, the input width (A is H × M).
    hidden : int
        H, the inner width.
    outputs : int
        N, the output width (B is N × H).
    rank : int, optional
        r, the rank of the true W0 (0 <= r <= min(M, H, N)).

    Returns
    -------
    dict
        ``lambda`` (float), ``lambda_fraction`` (str, exact), ``multiplicity`` (int) and
        ``case`` (1 … 4, the theorem's case).

    Raises
    ------
    ValueError
        If a width is below 1 or the rank is outside [0, min(M, H, N)].

    Examples
    --------
    >>> reduced_rank_regression(1, 1, 1)["lambda"], reduced_rank_regression(1, 1, 1)["multiplicity"]
    (0.5, 2)
    >>> reduced_rank_regression(3, 2, 3, 1)["lambda_fraction"], reduced_rank_regression(3, 2, 3, 1)["case"]
    ('7/2', 1)
    """
    m = validate.integer("inputs (M)", inputs, minimum=1)
    h = validate.integer("hidden (H)", hidden, minimum=1)
    n = validate.integer("outputs (N)", outputs, minimum=1)
    r = validate.integer("rank (r)", rank, minimum=0, maximum=min(m, h, n))
    order = 1
    if n + r <= m + h and m + r <= n + h and h + r <= m + n:
        odd = (m + h + n + r) % 2
        value = Fraction(2 * (h + r) * (m + n) - (m - n) ** 2 - (h + r) ** 2 + odd, 8)
        order, case = 1 + odd, 1
    elif m + h < n + r:
        value, case = Fraction(h * m - h * r + n * r, 2), 2
    elif n + h < m + r:
        value, case = Fraction(h * n - h * r + m * r, 2), 3
    else:
        value, case = Fraction(m * n, 2), 4
    return {"lambda": float(value), "lambda_fraction": str(value), "multiplicity": order, "case": case}
