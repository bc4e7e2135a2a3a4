"""Analysis layer: exact laws the simulations are checked against.

Submodules are imported on demand (nothing is imported here), e.g.
:mod:`fastwalk.analysis.stationary` for the stationary law of walks on
lattices and graphs.
"""
