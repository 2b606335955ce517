"""Public real EM volumes on request: downloaded once into the cache, checked, resumable.

Nothing in the course needs them (the notebooks and tests run offline on the synthetic
datasets and the real volume that ships with the package, ``fibsem/*``). They are here for
what comes after the course: ``mbl-seg fetch cremi/A`` or ``mbl_seg.data.fetch("cremi/A")``.

The download is pooch's (:func:`pooch.retrieve`: the file goes to a temporary name, its
SHA-256 is compared with the one listed here, and only a file that matches takes its place
in the cache; a file already there with the right checksum is not downloaded again). The
downloader is our own small one for pooch, so that an interrupted download **resumes**:
the bytes received so far wait in ``NAME.part`` next to the cache, and the next call asks
the server for the rest (an HTTP range request), or starts over where the server cannot.

Used in: the CLI (``mbl-seg fetch``); nothing in the notebooks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

__all__ = ["REMOTE", "Remote", "fetch", "list_remote"]


class Remote(NamedTuple):
    """A public volume: where it is, its SHA-256, what it holds, and on which terms."""

    name: str
    url: str
    sha256: str
    voxel_size: tuple[float, ...]  # nm, (z, y, x)
    layout: str  # what the file holds, and where
    source: str  # who made it, and what to cite
    terms: str  # the licence, as far as the source states one


_CREMI_SOURCE = ("CREMI, MICCAI 2016 challenge (Funke, Saalfeld, Bock, Turaga, Perlman): "
                 "serial-section TEM of the adult Drosophila brain, https://cremi.org")
_CREMI_TERMS = ("not stated as a licence on cremi.org; published for research on neuron "
                "segmentation: cite the challenge, do not redistribute")
_CREMI_LAYOUT = ("HDF5: volumes/raw (125, 1250, 1250) uint8, volumes/labels/neuron_ids "
                 "(uint64), volumes/labels/clefts; resolution attribute (40, 4, 4) nm")

REMOTE: dict[str, Remote] = {
    f"cremi/{s}": Remote(f"cremi/{s}", f"https://cremi.org/static/data/sample_{s}_20160501.hdf",
                         sha, (40.0, 4.0, 4.0), _CREMI_LAYOUT, _CREMI_SOURCE, _CREMI_TERMS)
    for s, sha in (
        ("A", "4c563d1b78acb2bcfb3ea958b6fe1533422f7f4a19f3e05b600bfa11430b510d"),
        ("B", "887e85521e00deead18c94a21ad71f278d88a5214c7edeed943130a1f4bb48b8"),
        ("C", "2874496f224d222ebc29d0e4753e8c458093e1d37bc53acd1b69b19ed1ae7052"))
}


def list_remote() -> list[str]:
    """The names :func:`fetch` knows.

    >>> list_remote()
    ['cremi/A', 'cremi/B', 'cremi/C']
    """
    return sorted(REMOTE)


def fetch(volume: str | Remote, *, directory: str | Path | None = None,
          progress: bool = True, timeout: float = 60.0) -> Path:
    """Download a listed public volume into the cache (once) and return its path.

    Parameters
    ----------
    volume : str or Remote
        A name of :func:`list_remote` (e.g. ``"cremi/A"``), or a :class:`Remote` of
        your own (any URL with its SHA-256).
    directory : str or Path, optional
        The cache; default ``fetched/`` in :func:`mbl_seg.data.data_dir`.
    progress : bool
        A progress bar while downloading.
    timeout : float
        Seconds to wait for the server before giving up (the next call resumes).

    Returns
    -------
    Path
        The file, its SHA-256 checked.
    """
    remote = _as_remote(volume)
    if directory is None:
        from .datasets import data_dir

        directory = data_dir() / "fetched"
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fname = remote.name.replace("/", "_") + Path(remote.url).suffix
    import pooch

    downloader = _Resuming(directory / (fname + ".part"), progress, timeout)
    try:
        path = pooch.retrieve(remote.url, known_hash=f"sha256:{remote.sha256}", fname=fname,
                              path=directory, downloader=downloader, progressbar=False)
    except ValueError as err:
        if "hash" not in str(err).lower():
            raise
        raise ValueError(f"{remote.name}: the file from {remote.url} does not have the "
                         f"SHA-256 listed for it ({remote.sha256[:12]}...): not kept. The "
                         "server may serve another version, or the download was damaged; "
                         "try again, and if it persists, report it") from None
    except OSError as err:  # requests' errors are OSErrors: the connection, the server
        raise ConnectionError(f"{remote.name}: downloading {remote.url} failed ({err}). What "
                              f"arrived is kept in {downloader.partial}; call fetch again to "
                              "resume") from None
    return Path(path)


def _as_remote(volume) -> Remote:
    if isinstance(volume, Remote):
        if len(volume.sha256) != 64 or any(c not in "0123456789abcdef" for c in volume.sha256):
            raise ValueError(f"a Remote needs the file's SHA-256 as 64 hex digits, got "
                             f"{volume.sha256!r}")
        return volume
    if volume not in REMOTE:
        raise ValueError(f"unknown volume {volume!r}: fetch knows {list_remote()} (or pass a "
                         "mbl_seg.data.Remote of your own)")
    return REMOTE[volume]


class _Resuming:
    """A pooch downloader that keeps what arrived and asks for the rest next time."""

    def __init__(self, partial: Path, progress: bool, timeout: float) -> None:
        self.partial, self.progress, self.timeout = partial, progress, timeout

    def __call__(self, url: str, output_file, pooch, check_only: bool = False):
        import requests
        from tqdm.auto import tqdm

        if check_only:
            return requests.head(url, timeout=self.timeout, allow_redirects=True).ok
        have = self.partial.stat().st_size if self.partial.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        with requests.get(url, headers=headers, stream=True, timeout=self.timeout) as response:
            if have and response.status_code == 416:  # nothing left to send: it is all here
                _move(self.partial, output_file)
                return None
            response.raise_for_status()
            resumed = have and response.status_code == 206
            if not resumed:
                have = 0  # the server sends the whole file: start over
            size = response.headers.get("Content-Length")
            total = have + int(size) if size is not None else None
            with open(self.partial, "ab" if resumed else "wb") as out, \
                    tqdm(total=total, initial=have, unit="B", unit_scale=True,
                         desc=Path(url).name, disable=not self.progress) as bar:
                for chunk in response.iter_content(chunk_size=1 << 16):  # what arrives stays
                    out.write(chunk)
                    bar.update(len(chunk))
        _move(self.partial, output_file)
        return None


def _move(partial: Path, output_file) -> None:
    """Hand the complete file to pooch (which checks it and keeps it, or deletes it)."""
    if isinstance(output_file, (str, os.PathLike)):
        os.replace(partial, output_file)
        return
    with open(partial, "rb") as source:  # pooch gave an open file
        while block := source.read(1 << 20):
            output_file.write(block)
    partial.unlink()
