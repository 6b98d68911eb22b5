"""Every file the code reads from beside its modules is in the installed package, not only in a checkout: each
non-Python file under controller/ and sim/ is named by pyproject.toml's [tool.setuptools.package-data]
(a wheel built without it served a console with no pages and a screening with no body model)."""

from __future__ import annotations

import fnmatch
import pathlib

import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _package_data() -> dict[str, list[str]]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]["package-data"]


def _covered(path: pathlib.Path, data: dict[str, list[str]]) -> bool:
    for package, patterns in data.items():
        base = ROOT.joinpath(*package.split("."))
        if base in path.parents:
            rel = path.relative_to(base).as_posix()
            if any(fnmatch.fnmatchcase(rel, p) and rel.count("/") == p.count("/") for p in patterns):
                return True
    return False


def test_every_data_file_of_the_packages_is_installed():
    data = _package_data()
    files = [p for top in ("controller", "sim") for p in (ROOT / top).rglob("*")
             if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    assert len(files) >= 15  # the console's static files and catalogue, the body model, recordings, the roster
    missing = [p.relative_to(ROOT).as_posix() for p in files if not _covered(p, data)]
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"


def test_a_pattern_names_files_that_exist():
    data = _package_data()
    for package, patterns in data.items():
        base = ROOT.joinpath(*package.split("."))
        for pattern in patterns:
            assert list(base.glob(pattern)), f"{package}: {pattern} names no file"
