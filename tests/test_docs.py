"""The README stays true: every config key is in the reference, the two commands are there, and
CI runs the README's test command."""

from pathlib import Path

from rnnlm.config import describe_keys

ROOT = Path(__file__).resolve().parent.parent


def test_readme_lists_every_config_key_with_its_default():
    readme = (ROOT / "README.md").read_text()
    for key, _, default, _ in describe_keys():
        assert f"| `{key}` |" in readme, f"README's config reference lacks {key}"
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{key}` |"))
        assert f"`{default}`" in row, f"README shows a stale default for {key}"


def test_readme_commands_and_ci():
    readme = (ROOT / "README.md").read_text()
    assert "make train" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_architecture_names_every_module():
    readme = (ROOT / "README.md").read_text()
    arch = readme.split("## Architecture", 1)[1]
    for path in sorted((ROOT / "rnnlm").rglob("*.py")):
        rel = path.relative_to(ROOT / "rnnlm").as_posix()
        if rel.endswith("__init__.py") and rel != "cells/__init__.py":
            continue
        assert rel in arch, f"README's architecture section does not mention rnnlm/{rel}"
