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
import re
import shutil
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path

from importlib.metadata import version
from pysd.builders.python.python_model_builder import ModelBuilder
from pysd.translators.vensim.vensim_file import VensimFile


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
            abstract = _parse_abstract(tmp / mdl_path.name, shown=mdl_path)
            ModelBuilder(abstract).build_model()
        with open(tmp / "abstract_model.pickle", "wb") as handle:
            pickle.dump(abstract, handle)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _publish(tmp, entry)
    return py_file


class ModelFileError(ValueError):
    """A ``.mdl`` file PySD cannot parse; the message names the variable and its line in the file."""


def _failing_element(traceback) -> tuple[str | None, str]:
    """The name of the innermost model element being parsed in ``traceback``, and its text."""
    name, text = None, ""
    while traceback is not None:
        owner = traceback.tb_frame.f_locals.get("self")
        if not type(owner).__module__.startswith("pysd.translators"):
            owner = None
        if getattr(owner, "name", None) and isinstance(owner.name, str):
            name, text = owner.name, str(getattr(owner, "expression", "") or "")
        elif isinstance(getattr(owner, "equation", None), str):
            name = re.split(r"[=(\[:]", owner.equation, maxsplit=1)[0].strip() or name
            text = owner.equation
        traceback = traceback.tb_next
    return name, text


def _line_of(mdl_text: str, name: str) -> int | None:
    """1-based line where ``name`` is defined in the ``.mdl`` text (a line starting with the name)."""
    words = r"[\s_]+".join(re.escape(word) for word in name.replace("_", " ").split())
    pattern = re.compile(rf"^[ \t]*{words}[ \t]*(\[[^\]]*\])?[ \t]*(=|:=|==|\(|$)",
                         re.IGNORECASE | re.MULTILINE)
    match = pattern.search(mdl_text)
    return None if match is None else mdl_text.count("\n", 0, match.start()) + 1


def _parse_abstract(mdl_path: Path, shown: Path | None = None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            vensim_file = VensimFile(mdl_path)
            vensim_file.parse()
            return vensim_file.get_abstract_model()
        except Exception as error:  # parsimonious / PySD parse errors: name the variable and the line
            name, chain = None, error
            while chain is not None and name is None:  # innermost first: the original error
                inner = chain.__cause__ or chain.__context__
                name, _ = _failing_element((inner or chain).__traceback__) if inner else (None, "")
                if name is None:
                    name, _ = _failing_element(chain.__traceback__)
                chain = inner
            reason = " ".join(str(error).split()).split(" Parse tree:")[0]
            reason = re.sub(r"\s*\(line \d+, column \d+\)\.?", "", reason)[:200]
            original = shown or mdl_path
            if name is None:
                raise ModelFileError(f"{original}: PySD cannot parse the model ({reason}); "
                                     f"check the Vensim syntax") from None
            line = _line_of(mdl_path.read_text(encoding="utf-8", errors="replace"), name)
            where = f"{original}, line {line}" if line else str(original)
            raise ModelFileError(f"{where}: cannot parse the equation of '{name}' ({reason}); fix its "
                                 f"Vensim syntax (operators, parentheses, the ~ units [min,max] ~ comment ~| parts)"
                                 ) from None


def abstract_model(mdl_path: str | Path):
    """Return PySD's parsed ``AbstractModel`` of ``mdl_path`` (cached on disk and in memory)."""
    mdl_path = _check_mdl(mdl_path)
    return _abstract_model_cached(str(mdl_path), file_sha256(mdl_path))


@lru_cache(maxsize=16)
def _abstract_model_cached(mdl_path: str, digest: str):
    pickled = translated_model_path(mdl_path).parent / "abstract_model.pickle"
    with open(pickled, "rb") as handle:
        return pickle.load(handle)
