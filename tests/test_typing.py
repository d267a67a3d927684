"""Static typing: every Tensor method is declared in a class body (no setattr installs),
zyx ships ``py.typed``, and mypy accepts a user program that uses zyx (operators,
indexing, matmul, the array API namespace, nn and optim) and types its results."""
from __future__ import annotations

import ast
import importlib.util
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

import zyx
from zyx import Tensor

PKG = pathlib.Path(zyx.__file__).parent
ROOT = PKG.parent

# the mixin classes Tensor inherits, and where they are defined
CLASSES = {"Tensor": "tensor.py", "_MathMixin": "_math.py", "_ReduceMixin": "_reduce.py",
           "_MovementMixin": "_movement.py", "_CreationMixin": "creation.py"}


def _class_body_names(path: pathlib.Path, cls: str) -> set[str]:
    """Names a class body defines (def, assignment, annotated assignment), read with ast."""
    tree = ast.parse(path.read_text())
    (node,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls]
    names: set[str] = set()
    for st in node.body:
        if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(st.name)
        elif isinstance(st, ast.Assign):
            for t in st.targets:
                for e in (t.elts if isinstance(t, ast.Tuple) else [t]):
                    if isinstance(e, ast.Name):
                        names.add(e.id)
        elif isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name):
            names.add(st.target.id)
    return names


def _tensor_names() -> set[str]:
    """Tensor's own attributes: dir(Tensor) less what every class has from object."""
    return set(dir(Tensor)) - set(dir(object)) - {"__dict__", "__weakref__", "__module__", "__slots__",
                                                 "__annotations__"}


def test_every_tensor_method_is_declared_in_a_class_body():
    assert [c.__name__ for c in Tensor.__mro__] == list(CLASSES) + ["object"]
    static = set().union(*(_class_body_names(PKG / f, c) for c, f in CLASSES.items()))
    names = _tensor_names()
    missing = sorted(names - static)
    assert not missing, f"Tensor attributes not declared in Tensor or its mixins: {missing}"
    assert len(names) > 200  # operators, math, reductions, movement, creation, protocols


def test_no_setattr_installs_on_tensor():
    found = []
    for path in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr"
                    and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == "Tensor"):
                found.append(f"{path.name}:{node.lineno}")
            targets = node.targets if isinstance(node, ast.Assign) else []
            for t in targets:
                if (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                        and t.value.id == "Tensor"):
                    found.append(f"{path.name}:{node.lineno}")
    assert not found, f"Tensor attributes assigned outside its class body: {found}"


def test_mixins_keep_tensor_slotted():
    # the mixins declare empty __slots__: a Tensor still has no __dict__
    t = zyx.zeros((2,))
    assert not hasattr(t, "__dict__")
    with pytest.raises(AttributeError):
        t.not_an_attribute = 1


def test_py_typed_is_shipped():
    assert (PKG / "py.typed").is_file()
    if (ROOT / "pyproject.toml").is_file():  # a source checkout: the wheel carries the marker
        assert '"py.typed"' in (ROOT / "pyproject.toml").read_text()


_GOOD = '''\
import zyx
import zyx.array_api as xp
from zyx import Tensor, nn, optim

x = zyx.Tensor.randn((4, 4))
y = zyx.ones((4, 4))
a = x * 2
b = 2.0 * x + 1
c = x[0]
d = x @ y
e = (x > 0) & (y < 1)
f = x.sum(axis=0).exp().max()
g = -x.reshape(16)[1:3]
h = x.real + abs(x) ** 2 - x.T
q = (x == y)
x += 1
x[0] = 3.0
z: Tensor = xp.sqrt(xp.abs(x)) + xp.sum(x, axis=1, keepdims=True)
w: Tensor = xp.matmul(x, y)
s: float = float(x.mean())
n: int = x.shape[0] + x.ndim
parts: list[Tensor] = x.split(2)
joined = zyx.cat([x, y]) + Tensor.stack([x, y]).sum(0)
zyx.realize(a, b)
zyx.realize.clear_cache()
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
opt = optim.Adam(model.parameters(), lr=1e-3)
with zyx.GradientTape() as tape:
    loss = model(x).log_softmax(axis=-1).mean()
grads = tape.gradient(loss, model.parameters())
reveal_type(a)
reveal_type(b)
reveal_type(c)
reveal_type(d)
reveal_type(e)
reveal_type(f)
reveal_type(g)
reveal_type(h)
reveal_type(q)
reveal_type(joined)
reveal_type(x.argmax(axis=1))
reveal_type(Tensor.zeros((2, 3)))
'''

_BAD = '''\
import zyx

x = zyx.Tensor.randn((4, 4))
x.not_a_method()
y = x.sum(axis="rows") + {"not": "an array"}
'''


def _mypy(tmp_path: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install mypy, or the 'test' extra)")
    env = dict(os.environ)
    if (ROOT / "pyproject.toml").is_file():  # a source checkout: check this tree's zyx
        env["MYPYPATH"] = str(ROOT)           # (an installed zyx is found by its py.typed)
    # --follow-imports=silent: zyx's own modules are read for their types but not
    # reported on, as for an installed package
    cmd = [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy-cache"), "--no-error-summary",
           "--follow-imports=silent", "--hide-error-context", "--no-pretty", *args]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)


def test_mypy_accepts_a_user_program(tmp_path):
    (tmp_path / "good.py").write_text(_GOOD)
    (tmp_path / "bad.py").write_text(_BAD)
    r = _mypy(tmp_path, "good.py", "bad.py")
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ": error:" in ln]
    revealed = [ln for ln in lines if "Revealed type" in ln]
    good_errors = [ln for ln in errors if ln.startswith("good.py")]
    assert not good_errors, "\n".join(good_errors) + "\n" + r.stderr
    assert len(revealed) == _GOOD.count("reveal_type(")
    for ln in revealed:
        assert 'Revealed type is "zyx.tensor.Tensor"' in ln, ln
    # mypy sees the class itself (not Any): a missing method and a bad operand are errors
    bad = sorted({int(ln.split(":")[1]) for ln in errors if ln.startswith("bad.py")})
    assert bad == [4, 5], "\n".join(lines)


def test_mypy_accepts_the_tensor_modules(tmp_path):
    mods = ["tensor.py", "_math.py", "_reduce.py", "_movement.py", "creation.py", "_views.py", "__init__.py"]
    r = _mypy(tmp_path, *[str(PKG / m) for m in mods])
    assert r.returncode == 0, r.stdout + r.stderr


def test_help_shows_the_methods():
    text = textwrap.dedent(__import__("pydoc").render_doc(Tensor, renderer=__import__("pydoc").plaintext))
    for name in ("__mul__", "__getitem__", "__matmul__", "sum", "reshape", "randn", "real"):
        assert name in text
