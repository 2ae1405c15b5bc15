"""A cache for everything derived from a ``.mdl`` file, kept outside the source tree.

PySD translates a ``.mdl`` into a Python module written next to the file it reads. To keep the
source tree clean, the ``.mdl`` is copied into a cache directory keyed by the SHA-256 of its
bytes and the PySD version, and translated there. The parsed abstract model is cached the same way.

The cache root is ``$IMSIM_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/imsim``, else
``~/.cache/imsim``. Entries are written to a temporary directory and renamed into place, so
parallel workers (Hydra's joblib launcher) never see a half-written translation.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path


def cache_root() -> Path:
    """Return the cache root directory (created if missing)."""
    if os.environ.get("IMSIM_CACHE_DIR"):
        root = Path(os.environ["IMSIM_CACHE_DIR"])
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        root = base / "imsim"
    root.mkdir(parents=True, exist_ok=True)
    return root


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _pysd_version() -> str:
    from importlib.metadata import version

    return version("pysd")


def _entry_dir(mdl_path: Path) -> Path:
    key = f"{mdl_path.stem}-{file_sha256(mdl_path)[:16]}-pysd{_pysd_version()}"
    return cache_root() / key


def _check_mdl(mdl_path: str | Path) -> Path:
    path = Path(mdl_path).resolve()
    if not path.is_file():
        raise FileNotFoundError(
            f"model file {path} does not exist; pass the path of a Vensim .mdl file"
        )
    if path.suffix.lower() != ".mdl":
        raise ValueError(f"{path} is not a Vensim .mdl file (expected the .mdl suffix)")
    return path


def _publish(tmp: Path, final: Path) -> None:
    """Rename a finished temporary directory into place (first writer wins)."""
    try:
        os.rename(tmp, final)
    except OSError:
        # Another process published the same entry first: keep theirs.
        shutil.rmtree(tmp, ignore_errors=True)


def translated_model_path(mdl_path: str | Path) -> Path:
    """Translate ``mdl_path`` with PySD into the cache (once) and return the ``.py`` path."""
    mdl_path = _check_mdl(mdl_path)
    entry = _entry_dir(mdl_path)
    py_file = entry / f"{mdl_path.stem}.py"
    if py_file.is_file():
        return py_file
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cache_root()))
    try:
        shutil.copyfile(mdl_path, tmp / mdl_path.name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pysd.builders.python.python_model_builder import ModelBuilder

            abstract = _parse_abstract(tmp / mdl_path.name)
            ModelBuilder(abstract).build_model()
        with open(tmp / "abstract_model.pickle", "wb") as handle:
            pickle.dump(abstract, handle)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _publish(tmp, entry)
    return py_file


def _parse_abstract(mdl_path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pysd.translators.vensim.vensim_file import VensimFile

        vensim_file = VensimFile(mdl_path)
        vensim_file.parse()
        return vensim_file.get_abstract_model()


def abstract_model(mdl_path: str | Path):
    """Return PySD's parsed ``AbstractModel`` of ``mdl_path`` (cached on disk and in memory)."""
    mdl_path = _check_mdl(mdl_path)
    return _abstract_model_cached(str(mdl_path), file_sha256(mdl_path))


@lru_cache(maxsize=16)
def _abstract_model_cached(mdl_path: str, digest: str):
    pickled = translated_model_path(mdl_path).parent / "abstract_model.pickle"
    with open(pickled, "rb") as handle:
        return pickle.load(handle)
