"""The import rules of the layered layout (README, Architecture), read from the source with ast.

Every import of every module counts, those inside functions too: a lazy import still ties the
layers together.
"""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "rnnlm"

# Layer -> the rnnlm modules it may import (prefixes). "registry", "errors" and "console" sit at
# the bottom: names, error kinds and stderr lines, no math and no files.
BASE = ("rnnlm.registry", "rnnlm.errors")
ALLOWED = {
    "rnnlm.nn": BASE + ("rnnlm.backend", "rnnlm.mkl", "rnnlm.fused", "rnnlm.nn"),
    "rnnlm.model": BASE + ("rnnlm.backend", "rnnlm.mkl", "rnnlm.fused", "rnnlm.nn", "rnnlm.model"),
    "rnnlm.optim": BASE + ("rnnlm.backend", "rnnlm.fused", "rnnlm.optim"),
    "rnnlm.data": BASE + ("rnnlm.console", "rnnlm.data", "rnnlm.run.atomic"),
    "rnnlm.run": BASE + ("rnnlm.console", "rnnlm.backend", "rnnlm.run", "rnnlm.config.load",
                         "rnnlm.config.schema"),
    "rnnlm.config.schema": BASE,
    "rnnlm.config.load": BASE + ("rnnlm.config.schema", "rnnlm.config.checks", "rnnlm.run.atomic"),
    "rnnlm.config.checks": BASE,
    "rnnlm.config.reference": BASE + ("rnnlm.config.schema",),
}
# Third-party or standard modules the math must not touch: files, config, the command line.
NOT_IN_MATH = ("typer", "yaml", "tqdm", "pathlib", "json", "os", "rich", "matplotlib")
MATH = ("rnnlm.nn", "rnnlm.model", "rnnlm.optim")


def _module_name(path):
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted):
    where = PKG.parent.joinpath(*dotted.split("."))
    return where.with_suffix(".py").exists() or (where / "__init__.py").exists()


def _imports(path):
    """Absolute names of everything a module imports (relative imports resolved)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            found.append(mod)
            # `from rnnlm.config import build` imports the submodule rnnlm.config.build
            found += [f"{mod}.{a.name}" for a in node.names
                      if _is_module(f"{mod}.{a.name}")]
    return name, found


MODULES = sorted(PKG.rglob("*.py"))


def _layer(name):
    return max((k for k in ALLOWED if name == k or name.startswith(k + ".")), key=len, default=None)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_import_rules(path):
    name, imports = _imports(path)
    ours = [m for m in imports if m.startswith("rnnlm.")]  # `from rnnlm import x` adds rnnlm.x
    if name != "rnnlm.__main__" and not name.startswith("rnnlm.cli"):
        assert not [m for m in ours if m.startswith("rnnlm.cli")], f"{name} imports the CLI"
    layer = _layer(name)
    if layer is not None:
        allowed = ALLOWED[layer]
        bad = [m for m in ours if not any(m == a or m.startswith(a + ".") for a in allowed)]
        assert not bad, f"{name} ({layer}) may not import {bad}"
    if name.startswith(MATH):
        bad = [m for m in imports if m.split(".")[0] in NOT_IN_MATH]
        assert not bad, f"{name} is math and may not import {bad}"


def test_the_rules_can_fail(tmp_path):
    """The checker sees a forbidden import, a relative one and one inside a function."""
    fake = PKG / "nn" / "_layout_probe.py"
    fake.write_text("from rnnlm import model\n\n\ndef f():\n    from ..run import paths\n")
    try:
        name, imports = _imports(fake)
        assert name == "rnnlm.nn._layout_probe"
        assert "rnnlm.run.paths" in imports and "rnnlm.model" in imports
        with pytest.raises(AssertionError):
            test_import_rules(fake)
    finally:
        fake.unlink()
