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


def _architecture_blocks(arch):
    """{top-level folder: the lines of the tree under it} and the top-level lines ("")."""
    tree = arch.split("```", 2)[1]
    blocks, current = {"": []}, ""
    for line in tree.splitlines():
        stripped = line.strip()
        if line.startswith("  ") and not line.startswith("   ") and stripped.split()[0].endswith("/"):
            current = stripped.split()[0].rstrip("/")
            blocks[current] = []
        elif line.startswith("  ") and not line.startswith("   "):
            current = ""
        blocks[current].append(stripped)
    return blocks


def test_readme_architecture_names_every_module():
    readme = (ROOT / "README.md").read_text()
    arch = readme.split("## Architecture", 1)[1]
    blocks = _architecture_blocks(arch)
    described = ("nn/cells/__init__.py", "data/tokenizers/__init__.py")  # these hold code
    for path in sorted((ROOT / "rnnlm").rglob("*.py")):
        rel = path.relative_to(ROOT / "rnnlm").as_posix()
        if rel.endswith("__init__.py") and rel not in described:
            continue
        top, _, rest = rel.partition("/")
        where, name = (top, rest) if rest else ("", rel)
        text = "\n".join(blocks.get(where, []))
        assert name in text, f"README's architecture section does not mention rnnlm/{rel}"


def test_readme_config_reference_is_the_generated_one():
    from rnnlm.config.reference import BEGIN, END, markdown_table
    readme = (ROOT / "README.md").read_text()
    table = readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert table == markdown_table().strip(), "README's config reference is stale: run `make reference`"
