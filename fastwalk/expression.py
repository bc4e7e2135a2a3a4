"""User-typed potentials: safe parsing, symbolic gradients, cached numba code.

An :class:`Expression` turns text such as ``"a*(x0**2 + x1**2)**2"`` into a
SymPy expression, its exact gradient, and numba-compiled ``energy(x)``,
``gradient(x, out)`` and ``energy_gradient(x, out)`` functions.

Safety: the text is parsed by Python's :mod:`ast` (which only parses) and the
tree is checked node by node before anything is built. Accepted are numbers,
the symbols ``x0 .. x{d-1}``, declared constants (``params``), ``pi`` and
``E``, the operators ``+ - * / **`` and unary minus, and calls of the
functions in :data:`FUNCTIONS` with positional arguments. Anything else —
attribute access, subscripts, keywords, strings, lambdas, comprehensions,
unknown names such as ``__import__`` — is refused with a message naming it.
The SymPy expression is built from the checked tree by this module; SymPy's
own parsers (``sympify``/``parse_expr``) are never given user text, because
they call ``eval``.

Code generation: the energy and its partial derivatives are printed as
straight-line Python (common subexpressions shared through :func:`sympy.cse`,
constants substituted) into a module in the cache directory
(:func:`cache_directory`), named by a hash of (text, dim, params, fastwalk
version), together with the Langevin kernels that call them
(:mod:`fastwalk.models._langevin_kernels`). Importing that module with
numba's ``cache=True`` means that a repeated run of the same expression does
not compile again. Where U is not differentiable (``Abs``, ``Min``, ``Max``)
the gradient is SymPy's almost-everywhere derivative: ``sign`` and
``Heaviside`` (½ at a tie).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import io
import keyword
import math
import numbers
import os
import pickletools
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


__all__ = ["Expression", "FUNCTIONS", "MAX_DIM", "cache_directory", "check_params", "numpy_function",
           "parse"]

#: function names a user may call -> SymPy function name
FUNCTIONS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "exp": "exp", "log": "log", "sqrt": "sqrt",
    "tanh": "tanh", "sinh": "sinh", "cosh": "cosh", "atan": "atan", "asin": "asin",
    "acos": "acos", "Abs": "Abs", "abs": "Abs", "Min": "Min", "min": "Min", "Max": "Max",
    "max": "Max",
}
_ARITY = {"Min": None, "Max": None}  # variadic (>= 2); every other function takes one argument
_CONSTANTS = {"pi": "pi", "E": "E"}
#: most coordinates of a typed potential: each is a SymPy symbol and a row of every Langevin
#: kernel's work arrays (which live on the stack)
MAX_DIM = 64
_MAX_TEXT = 10_000
_MAX_DEPTH = 200
_VARIABLE = re.compile(r"x(0|[1-9][0-9]*)\Z")
_PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


# ---------------------------------------------------------------------- parsing
def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambda",
        ast.Compare: "comparisons", ast.BoolOp: "and/or", ast.IfExp: "if/else",
        ast.Starred: "starred arguments", ast.Tuple: "tuples", ast.List: "lists",
        ast.Dict: "dicts", ast.Set: "sets", ast.JoinedStr: "f-strings",
        ast.NamedExpr: "assignment (:=)",
    }
    for kind, text in names.items():
        if isinstance(node, kind):
            return text
    return type(node).__name__


class _Builder:
    """Build a SymPy expression from a checked :mod:`ast` tree (no ``eval``)."""

    def __init__(self, dim: int, params: dict[str, float]):
        import sympy

        self.sympy = sympy
        self.dim = dim
        self.variables = [sympy.Symbol(f"x{i}", real=True) for i in range(dim)]
        self.params = {name: sympy.Symbol(name, real=True) for name in params}
        self.used: set[str] = set()  # the constants the text names

    def build(self, node: ast.AST, depth: int = 0):
        if depth > _MAX_DEPTH:
            raise ValueError(f"the potential is nested more than {_MAX_DEPTH} levels deep; simplify it")
        sp = self.sympy
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"the potential may contain only numbers, not {value!r}")
            if isinstance(value, float):
                if not math.isfinite(value):
                    raise ValueError(f"the potential contains the non-finite number {value!r}")
                return sp.Float(value)
            return sp.Integer(value)
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.build(node.operand, depth + 1)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            left = self.build(node.left, depth + 1)
            right = self.build(node.right, depth + 1)
            return self._binary(type(node.op), left, right)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        if isinstance(node, (ast.UnaryOp, ast.BinOp)):
            op = type(node.op).__name__
            raise ValueError(f"the operator {op} is not allowed in a potential; use + - * / ** only")
        raise ValueError(f"{_describe(node)} not allowed in a potential; use numbers, x0..x{self.dim - 1}, "
                         "declared --param constants, + - * / ** and functions "
                         f"({', '.join(sorted(FUNCTIONS))})")

    def _name(self, name: str):
        match = _VARIABLE.match(name)
        if match:
            index = int(match.group(1))
            if index >= self.dim:
                raise ValueError(f"unknown symbol {name!r}: with --dim {self.dim} the coordinates are "
                                 f"x0..x{self.dim - 1}")
            return self.variables[index]
        if name in self.params:
            self.used.add(name)
            return self.params[name]
        if name in _CONSTANTS:
            return getattr(self.sympy, _CONSTANTS[name])
        if name in FUNCTIONS:
            raise ValueError(f"{name!r} is a function; call it, e.g. {name}(x0)")
        raise ValueError(f"unknown symbol {name!r} in the potential; use x0..x{self.dim - 1}, pi, E or "
                         f"declare a constant with --param {name}=VALUE")

    def _binary(self, op, left, right):
        sp = self.sympy
        if op is ast.Pow and left.is_Number and right.is_Number:
            # fold numbers in floating point: 10**10**10 must not become a huge integer
            try:
                value = float(left) ** float(right)
            except (OverflowError, ZeroDivisionError):
                value = math.nan
            if isinstance(value, complex) or not math.isfinite(value):
                raise ValueError(f"the constant {left}**{right} is not a finite real number")
            return sp.Float(value)
        if op is ast.Pow and right.is_Number and abs(float(right)) > 1000:
            raise ValueError(f"the exponent {right} is too large (at most 1000 in absolute value)")
        if op is ast.Div and right.is_Number and right == 0:
            raise ValueError("the potential divides by the number zero")
        return {ast.Add: lambda: left + right, ast.Sub: lambda: left - right,
                ast.Mult: lambda: left * right, ast.Div: lambda: left / right,
                ast.Pow: lambda: left**right}[op]()

    def _call(self, node: ast.Call, depth: int):
        if not isinstance(node.func, ast.Name):
            raise ValueError(f"{_describe(node.func)} not allowed in a potential; call a function by name, "
                             f"one of {', '.join(sorted(FUNCTIONS))}")
        name = node.func.id
        if name not in FUNCTIONS:
            raise ValueError(f"unknown function {name!r} in the potential; known functions: "
                             f"{', '.join(sorted(FUNCTIONS))}")
        if node.keywords:
            raise ValueError(f"{name}() takes no keyword arguments in a potential")
        args = [self.build(arg, depth + 1) for arg in node.args]
        target = FUNCTIONS[name]
        if target in _ARITY:
            if len(args) < 2:
                raise ValueError(f"{name}() needs at least two arguments, got {len(args)}")
        elif len(args) != 1:
            raise ValueError(f"{name}() takes one argument, got {len(args)}")
        return getattr(self.sympy, target)(*args)


def check_params(params) -> dict[str, float]:
    """Check named constants: plain, unreserved names with finite numeric values.

    Parameters
    ----------
    params : dict of str to float or None
        The constants.

    Returns
    -------
    dict of str to float
        The constants as floats (empty for None).
    """
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of name -> number, got {type(params).__name__}")
    checked = {}
    for name, value in params.items():
        if not isinstance(name, str) or not _PARAM_NAME.match(name):
            raise ValueError(f"constant name {name!r} is not a plain name (letters, digits, _)")
        if _VARIABLE.match(name) or name in FUNCTIONS or name in _CONSTANTS or keyword.iskeyword(name):
            raise ValueError(f"constant name {name!r} is reserved (a coordinate, function, pi/E or "
                             "Python keyword); choose another name")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"constant {name} must be a number, got {value!r}")
        if not math.isfinite(float(value)):
            raise ValueError(f"constant {name} = {value} is not finite")
        checked[name] = float(value)
    return checked


def parse(text: str, dim: int, params: dict[str, float] | None = None, used: set | None = None):
    """Parse ``text`` into a SymPy expression in x0..x{dim-1}, without ``eval``.

    Parameters
    ----------
    text : str
        The potential, e.g. ``"a*(x0**2 + x1**2)**2"``.
    dim : int
        Number of coordinates d, 1 .. :data:`MAX_DIM`.
    params : dict of str to float, optional
        Named constants the text may use (substituted by their values).
    used : set, optional
        If given, receives the names of the constants the text uses.

    Returns
    -------
    sympy.Expr
        The expression with the constants substituted.

    Raises
    ------
    ValueError
        If the text does not parse, or uses anything but numbers, the
        coordinates, the constants and the functions of :data:`FUNCTIONS`.
    """
    if not isinstance(text, str):
        raise TypeError(f"the potential must be a string, got {type(text).__name__}")
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or not 1 <= dim <= MAX_DIM:
        raise ValueError(f"dim must be an integer in [1, {MAX_DIM}], got {dim!r}")
    params = check_params(params)
    if not text.strip():
        raise ValueError("the potential is empty; give an expression such as 'x0**2 + x1**2'")
    if len(text) > _MAX_TEXT:
        raise ValueError(f"the potential is {len(text)} characters long; at most {_MAX_TEXT}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"the potential {text!r} does not parse: {exc.msg} at column "
                         f"{exc.offset}") from None
    except (ValueError, RecursionError, MemoryError):
        raise ValueError(f"the potential {text!r} does not parse") from None
    builder = _Builder(int(dim), params)
    try:
        expr = builder.build(tree.body)
    except RecursionError:
        raise ValueError("the potential is nested too deeply; simplify it") from None
    if used is not None:
        used.update(builder.used)
    values = {builder.params[name]: value for name, value in params.items()}
    expr = expr.subs(values) if values else expr
    if not expr.free_symbols <= set(builder.variables):
        unresolved = sorted(map(str, expr.free_symbols))
        raise ValueError(f"the potential {text!r} keeps unresolved symbols {unresolved}")
    return expr


# ---------------------------------------------------------------------- code printing
class _Printer:
    """Print a SymPy expression as a numba-compilable Python expression."""

    _MATH = {"sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sinh", "cosh", "atan", "asin",
             "acos"}

    _NUMPY = {"atan": "arctan", "asin": "arcsin", "acos": "arccos", "Min": "minimum",
              "Max": "maximum", "Abs": "abs", "sign": "sign"}

    def __init__(self, names: dict, numpy: bool = False):
        import sympy

        self.sp = sympy
        self.names = names  # Symbol -> local name
        self.numpy = numpy  # print NumPy ufuncs (vectorised) instead of math/min/max

    def __call__(self, e) -> str:
        sp = self.sp
        if e in self.names:
            return self.names[e]
        if e.is_Number:
            value = float(e)
            if not math.isfinite(value):
                raise ValueError(f"the potential or its gradient contains the constant {e}")
            return repr(value)
        if e is sp.pi or e is sp.E:
            return repr(float(e))
        if e.is_Add:
            return "(" + " + ".join(self(a) for a in e.args) + ")"
        if e.is_Mul:
            return "(" + " * ".join(self(a) for a in e.args) + ")"
        if e.is_Pow:
            return self._pow(*e.args)
        name = type(e).__name__
        if self.numpy and (name in self._MATH or name in self._NUMPY):
            fn = self._NUMPY.get(name, name)
            text = self(e.args[0])
            for a in e.args[1:]:
                text = f"np.{fn}({text}, {self(a)})"
            return text if len(e.args) > 1 else f"np.{fn}({text})"
        if name in self._MATH:
            return f"math.{name}({self(e.args[0])})"
        if name in ("Min", "Max"):
            fn = name.lower()
            text = self(e.args[0])
            for a in e.args[1:]:
                text = f"{fn}({text}, {self(a)})"
            return text
        if name == "Abs":
            return f"abs({self(e.args[0])})"
        if name == "sign":
            return f"_sign({self(e.args[0])})"
        if name == "Heaviside":
            if self.numpy:
                return f"np.heaviside({self(e.args[0])}, 0.5)"
            return f"_heaviside({self(e.args[0])})"
        if name == "DiracDelta":
            return "0.0"  # the almost-everywhere derivative of sign or Heaviside
        raise ValueError(f"cannot compile {name} (in {e}) to numba; rewrite the potential without it")

    def _pow(self, base, exponent) -> str:
        b = self(base)
        if exponent.is_Integer:
            n = int(exponent)
            if n == 2:
                return f"({b} * {b})"
            if n < 0:  # numba's integer power raises ZeroDivisionError at 0; a quotient gives inf
                return f"(1.0 / {b})" if n == -1 else f"(1.0 / ({b} ** {-n}))"
            return f"({b} ** {n})"
        if exponent == self.sp.Rational(1, 2):
            return f"math.sqrt({b})"
        if exponent == self.sp.Rational(-1, 2):
            return f"(1.0 / math.sqrt({b}))"
        return f"({b} ** {self(exponent)})"


def _function_source(name: str, signature: str, dim: int, reductions, outputs: list[str],
                     printer_names: dict, returns: str | None, lanes: bool = False) -> list[str]:
    lines = ["@jit(cache=CACHE, inline=\"always\")", f"def {name}({signature}):"]
    indent = "    "
    if lanes:  # one pass of a loop over lanes: coordinate j of lane i is X[j, i]
        lines.append("    for i in range(width):")
        indent = "        "
    lines += [f"{indent}x{i} = {'X' if lanes else 'x'}[{i}{', i' if lanes else ''}]" for i in range(dim)]
    printer = _Printer(printer_names)
    for symbol, value in reductions:
        lines.append(f"{indent}{printer_names[symbol]} = {printer(value)}")
    for target, value in outputs:
        lines.append(f"{indent}{target} = {printer(value)}")
    if returns is not None:
        lines.append(f"    return {returns}")
    return lines


def _cse_function(name, signature, dim, variables, targets, returns, lanes=False):
    import sympy

    temporaries = sympy.numbered_symbols("_t")
    reductions, reduced = sympy.cse([value for _, value in targets], symbols=temporaries)
    names = {v: f"x{i}" for i, v in enumerate(variables)}
    names.update({symbol: str(symbol) for symbol, _ in reductions})
    outputs = [(target, value) for (target, _), value in zip(targets, reduced, strict=True)]
    return _function_source(name, signature, dim, reductions, outputs, names, returns, lanes)


def generate_source(expr, gradient, dim: int, variables) -> str:
    """Return the source of ``energy``, ``gradient``, ``energy_gradient`` and ``lane_energy_gradient``.

    Parameters
    ----------
    expr : sympy.Expr
        The energy U.
    gradient : list of sympy.Expr
        Its partial derivatives.
    dim : int
        Number of coordinates.
    variables : list of sympy.Symbol
        x0 .. x{d-1}.

    Returns
    -------
    str
        Python source defining the functions (decorated with ``jit``);
        ``lane_energy_gradient`` is ``energy_gradient`` as a loop over the
        lanes of :mod:`fastwalk.models._langevin_kernels` (same arithmetic).
    """
    lines = _cse_function("energy", "x", dim, variables, [("_u", expr)], "_u")
    lines.append("")
    lines += _cse_function("gradient", "x, out", dim, variables,
                           [(f"out[{i}]", g) for i, g in enumerate(gradient)], None)
    lines.append("")
    lines += _cse_function("energy_gradient", "x, out", dim, variables,
                           [("_u", expr)] + [(f"out[{i}]", g) for i, g in enumerate(gradient)], "_u")
    lines.append("")
    lines += _cse_function("lane_energy_gradient", "X, G, U, width, x, g, skip", dim, variables,
                           [("U[i]", expr)] + [(f"G[{i}, i]", g) for i, g in enumerate(gradient)],
                           None, lanes=True)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- cache
def cache_directory() -> Path:
    """Return the directory that holds generated expression modules.

    ``$FASTWALK_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/fastwalk`` (default
    ``~/.cache/fastwalk``); the modules live in its ``expressions``
    subdirectory, and numba's compiled code beside them in ``__pycache__``.

    Returns
    -------
    pathlib.Path
        The (created) directory.
    """
    root = os.environ.get("FASTWALK_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "fastwalk")
    path = Path(root) / "expressions"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from fastwalk.errors import PlaceError

        raise PlaceError(f"cannot use {path} for compiled potentials ({exc.strerror}); set "
                         "$FASTWALK_CACHE_DIR to a writable directory", exc) from None
    return path


def _drop_unreadable_numba_cache(path: Path) -> None:
    """Delete numba's cache files of module ``path`` when any is not a whole pickle stream.

    numba reads its index (``.nbi``: two pickles) and data (``.nbc``: one) with
    :mod:`pickle` and lets a damaged file fail every later run of the same
    potential; without them it compiles again and writes fresh ones. The files
    are only parsed (:func:`pickletools.genops`), never unpickled: their objects
    refer to the module, which is not imported yet.
    """
    files = sorted((path.parent / "__pycache__").glob(f"{path.stem}.*.nb[ic]"))
    for file in files:
        try:
            stream = io.BytesIO(file.read_bytes())
            for _ in range(2 if file.suffix == ".nbi" else 1):
                for _op in pickletools.genops(stream):
                    pass
            if stream.read(1):
                raise ValueError("bytes after the last pickle")
        except Exception:  # noqa: BLE001 - any damage: numba would fail the same way
            for stale in files:
                stale.unlink(missing_ok=True)
            return


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file; a failure is one line.

    It is a :class:`~fastwalk.errors.PlaceError`: status 1 for a full disk, 2 for a
    forbidden place.
    """
    from fastwalk.errors import PlaceError

    tmp = None
    try:
        if path.exists() and path.read_text() == text:
            return
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".py")
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise PlaceError(f"cannot write the compiled potential {path} ({exc.strerror}); free space "
                         "there or set $FASTWALK_CACHE_DIR to another directory", exc) from None


def load_module(name: str, source: str, directory: Path | None = None):
    """Write ``source`` as ``name.py`` in the cache directory (if changed) and import it.

    Parameters
    ----------
    name : str
        Module name (also the file name).
    source : str
        Module text.
    directory : pathlib.Path, optional
        Where to write it [default: :func:`cache_directory`].

    Returns
    -------
    module
        The imported module (kept in ``sys.modules`` under ``name``).
    """
    if name in sys.modules:
        return sys.modules[name]
    path = (directory or cache_directory()) / f"{name}.py"
    _write_atomically(path, source)
    _drop_unreadable_numba_cache(path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


# ---------------------------------------------------------------------- Expression
class Expression:
    """A potential U(x0 .. x{d-1}) typed as text, with its compiled energy and gradient.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"x0**2 * x1**4"`` (see the module docstring
        for what it may contain).
    dim : int
        Number of coordinates d (>= 1).
    params : dict of str to float, optional
        Named constants, e.g. ``{"a": 2.0}``.

    Attributes
    ----------
    text, dim, params
        As given (``params`` as floats).
    sympy : sympy.Expr
        U with the constants substituted.
    gradient_sympy : list of sympy.Expr
        ∂U/∂x_i.
    unused_params : list of str
        Declared constants the text does not use (a typo, often).

    Raises
    ------
    ValueError
        If the text is refused (message names what and why).
    """

    def __init__(self, text: str, dim: int, params: dict[str, float] | None = None):
        import sympy

        self.params = check_params(params)
        used: set[str] = set()
        self.sympy = parse(text, dim, self.params, used)
        self.unused_params = sorted(set(self.params) - used)
        self.text = text.strip()
        self.dim = int(dim)
        self.variables = [sympy.Symbol(f"x{i}", real=True) for i in range(self.dim)]
        self.gradient_sympy = [sympy.diff(self.sympy, v) for v in self.variables]
        self._source = generate_source(self.sympy, self.gradient_sympy, self.dim, self.variables)
        self._module = None
        self._numpy = None
        self._hessian = None

    def __repr__(self) -> str:
        return f"Expression({self.text!r}, dim={self.dim}, params={self.params!r})"

    @property
    def key(self) -> str:
        """Return the hash naming this expression's generated module."""
        from fastwalk._version import __version__

        blob = repr((__version__, self.module_source()))
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def module_source(self) -> str:
        """Return the source of this expression's generated module (kernels and the printed U)."""
        import numba

        # No user text enters the source: every definition is printed from the checked SymPy
        # tree (DESIGN.md, "Trust model"), so texts with equal trees share one module.
        return ('"""Generated by fastwalk for one typed potential; do not edit."""\n\nCACHE = True\n'
                f'DIM = {self.dim}\nFULL_TILES = {bool(numba.config.USING_SVML)}\n\n'
                + _kernel_source() + "\n\n# the potential (replaces the placeholders above)\n"
                + self._source)

    @property
    def module(self):
        """Return the generated module (written and imported on first use)."""
        if self._module is None:
            self._module = load_module(f"fastwalk_expression_{self.key}", self.module_source())
        return self._module

    @property
    def energy(self):
        """Jitted ``energy(x) -> float`` for a float64 array ``x`` of length d."""
        return self.module.energy

    @property
    def gradient(self):
        """Jitted ``gradient(x, out)`` writing ∂U/∂x_i into ``out[i]``."""
        return self.module.gradient

    @property
    def energy_gradient(self):
        """Jitted ``energy_gradient(x, out) -> float``: both at once (shared subexpressions)."""
        return self.module.energy_gradient

    @property
    def hessian_numpy(self) -> list[list]:
        """Vectorised NumPy callables of the Hessian's upper triangle, ``[i][j - i]``."""
        if self._hessian is None:
            self._hessian = [[numpy_function(gi.diff(self.variables[j]), self.variables)
                              for j in range(i, self.dim)]
                             for i, gi in enumerate(self.gradient_sympy)]
        return self._hessian

    def energy_numpy(self, points) -> np.ndarray:
        """Evaluate U on an array of points with NumPy (for quadrature and plots).

        Parameters
        ----------
        points : array_like
            Shape ``[..., d]``.

        Returns
        -------
        numpy.ndarray
            Shape ``[...]``: U at each point.
        """
        import numpy as np

        points = np.asarray(points, dtype=np.float64)
        if points.shape[-1:] != (self.dim,):
            raise ValueError(f"points must have shape [..., {self.dim}], got {points.shape}")
        if self._numpy is None:
            self._numpy = numpy_function(self.sympy, self.variables)
        values = self._numpy(*[points[..., i] for i in range(self.dim)])
        return np.broadcast_to(np.asarray(values, dtype=np.float64), points.shape[:-1]).copy()


def numpy_function(expr, variables):
    """Build a vectorised NumPy callable ``f(x0, .., x{d-1})`` of a SymPy expression.

    The function's text is printed by :class:`_Printer` from the SymPy tree
    (numbers, x_i, operators and ``np`` functions only), never from user text.

    Parameters
    ----------
    expr : sympy.Expr
        Expression in ``variables``.
    variables : list of sympy.Symbol
        The arguments, in order.

    Returns
    -------
    callable
        ``f(*arrays) -> array`` (broadcasting).
    """
    import numpy as np

    names = {v: f"x{i}" for i, v in enumerate(variables)}
    text = _Printer(names, numpy=True)(expr)
    args = ", ".join(f"x{i}" for i in range(len(variables)))
    namespace: dict[str, Any] = {"np": np}
    exec(compile(f"def f({args}):\n    return {text}\n", "<fastwalk expression>", "exec"), namespace)  # noqa: S102
    return namespace["f"]


def _kernel_source() -> str:
    from fastwalk.models import _langevin_kernels

    return Path(_langevin_kernels.__file__).read_text()
