"""Checks of the project files themselves: citation metadata, versions, README."""

import pathlib
import re
import subprocess
import sys
import tomllib

import pytest

import jaxcnn

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_versions_agree():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    cff = (ROOT / "CITATION.cff").read_text()
    assert pyproject["project"]["version"] == jaxcnn.__version__
    assert f"\nversion: {jaxcnn.__version__}\n" in cff


def test_citation_is_valid_cff():
    pytest.importorskip("cffconvert")
    exe = pathlib.Path(sys.executable).parent / "cffconvert"
    result = subprocess.run(
        [str(exe), "--validate", "-i", "CITATION.cff"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_citation_names_both_papers():
    cff = (ROOT / "CITATION.cff").read_text()
    assert "arXiv:1604.02878" in cff
    assert "arXiv:1503.03832" in cff


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text().splitlines()
    marker = readme.index("<!-- test-command -->")
    assert readme[marker + 1] == "```bash"
    command = readme[marker + 2]
    assert "pytest" in command
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert command in ci_lines


def test_readme_python_example_runs():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```python\n") + len("```python\n")
    code = readme[start : readme.index("```", start)]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["y"].shape == (8, 14, 14, 16)
    assert namespace["edges"].shape == (8, 28, 28, 3)
    assert namespace["grads"].shape == (3, 3, 3, 16)


def _markdown_files():
    patterns = ("*.md", "docs/**/*.md", "research/**/*.md", "benchmarks/**/*.md")
    return sorted({p for pattern in patterns for p in ROOT.glob(pattern)})


def test_relative_links_in_docs_resolve():
    """Every relative Markdown link points at a file of the repository."""
    link = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
    broken = []
    for md in _markdown_files():
        for target in link.findall(md.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            if not (md.parent / target).exists():
                broken.append(f"{md.relative_to(ROOT)} -> {target}")
    assert _markdown_files(), "no Markdown files found"
    assert not broken, "broken links:\n" + "\n".join(broken)
