"""The package as a user installs it: a wheel built from this checkout, installed (not editable)
into a fresh virtual environment, run from a directory outside the repository.

No network: the wheel is built with the test environment's setuptools (the test extra), and the fresh environment
borrows the dependencies (numpy, typer, ...) from the test environment's site-packages through a
path file, which adds their folder but does not run its .pth files, so the editable rnnlm of the
test environment stays invisible there.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(args, cwd, **kw):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, **kw)
    assert r.returncode == 0, f"{args} failed:\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # a copy: building in the checkout would leave build/ and *.egg-info there
    shutil.copytree(ROOT / "rnnlm", src / "rnnlm", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", str(tmp / "dist"), str(src)], cwd=tmp)
    wheel = next((tmp / "dist").glob("rnnlm-*.whl"))
    env_dir = tmp / "fresh"
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
          "--no-index", str(wheel)], cwd=tmp)
    site = _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=tmp).stdout.strip()
    Path(site, "_rnnlm_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp / "elsewhere"
    work.mkdir()
    return env_dir, work


def test_the_wheel_holds_every_subpackage(installed):
    env_dir, work = installed
    r = _run([str(env_dir / "bin" / "python"), "-c",
              "import rnnlm, rnnlm.nn.cells.lstm, rnnlm.train.loop, rnnlm.data.tokenizers.char;"
              "print(rnnlm.__file__)"], cwd=work)
    assert str(env_dir) in r.stdout  # the wheel's copy, not the checkout


def test_installed_commands_run_outside_the_checkout(installed):
    env_dir, work = installed
    rnnlm = str(env_dir / "bin" / "rnnlm")
    r = _run([rnnlm, "gradcheck", "--set", "model.cell=gru"], cwd=work)
    assert "passed" in r.stdout
    (work / "text.txt").write_text("the cat sat on the mat\n" * 200)
    (work / "cfg.yaml").write_text(
        "data: {corpus: text.txt}\n"
        "model: {layers: 1, embed_size: 8, hidden_size: 16}\n"
        "train: {batch_size: 4, bptt: 16, max_steps: 20, eval_every: 10, sample_length: 20}\n")
    r = _run([rnnlm, "train", "cfg.yaml", "--out", "run", "--no-progress"], cwd=work)
    assert (work / "run" / "checkpoints" / "last.npz").is_file()
    r = _run([str(env_dir / "bin" / "python"), "-m", "rnnlm", "eval", "run", "--json"], cwd=work)
    assert '"loss"' in r.stdout
