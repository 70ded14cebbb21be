"""The LALR parser's tables kept between runs, so that a command does not
rebuild them (about 0.15 s of a 0.4 s `kmap check` of a small file,
docs/performance.md, "Startup").

Lark computes its LALR tables from the grammar at every construction. Here
the built parser is saved (``Lark.save``) to a file named by a key, the
SHA-256 of everything the tables depend on: the grammar text, the Lark
options, the post-lexer's class and always-accepted terminals, Lark's
version and Python's. A changed grammar or an upgraded Lark therefore
looks for another file and never meets old tables. The file carries the
key again and the SHA-256 of its payload, both checked before the payload
is unpickled, so a truncated, corrupt or half-written file is rebuilt,
never used. It is written to a temporary name and renamed, so a reader
sees a whole file or none.

Where: ``$XDG_CACHE_HOME/kmap-scenarios`` (``~/.cache/kmap-scenarios``
when unset), else ``kmap-scenarios-UID`` in the temporary directory; a
directory is used only when it is ours and no one else can write to it
(the file is a pickle: it must not be anybody's to plant). When none can
be used, or reading or writing fails, the parser is built as before,
silently: the cache only ever saves time. ``KMAP_NO_CACHE=1`` turns it
off.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lark
from lark import Lark

FORMAT = b"kmap-scenarios lark tables 1"
DIRNAME = "kmap-scenarios"

# How the last parser() of this process was made: "loaded" (from the
# cache), "built" (and saved), "built, not saved" (no usable place, or
# the cache off). For tests and `bench/startup.py`.
last = ""


def key(grammar: str, options: dict[str, Any], postlex: Any) -> str:
    """The SHA-256 (hex) of all the tables depend on."""
    plain = sorted((k, repr(v)) for k, v in options.items() if k != "postlex")
    parts = [FORMAT.decode(), grammar, repr(plain),
             f"{type(postlex).__module__}.{type(postlex).__qualname__}",
             repr(sorted(getattr(postlex, "always_accept", ()))),
             lark.__version__, repr(sys.version_info[:2])]
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def directories() -> list[Path]:
    """Where the tables may be kept, the preferred first."""
    out = []
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):   # the XDG spec: a relative path is ignored
        out.append(Path(xdg) / DIRNAME)
    else:
        try:
            out.append(Path.home() / ".cache" / DIRNAME)
        except (RuntimeError, KeyError, OSError):   # no home directory
            pass
    uid = os.getuid() if hasattr(os, "getuid") else 0
    out.append(Path(tempfile.gettempdir()) / f"{DIRNAME}-{uid}")
    return out


def _usable(d: Path) -> bool:
    """Make d (private) if it is missing; whether it is a directory of
    ours that no one else can write to."""
    try:
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.stat(d, follow_symlinks=False)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    return not hasattr(os, "getuid") or st.st_uid == os.getuid()


def place() -> Path | None:
    """The first usable cache directory, or None."""
    if os.environ.get("KMAP_NO_CACHE"):
        return None
    return next((d for d in directories() if _usable(d)), None)


def load(path: Path, want: str) -> Lark | None:
    """The parser saved in ``path`` under key ``want``; None when the file
    is missing, of another key or format, or its payload does not match
    its digest (and whatever else goes wrong reading it)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        fmt, k, digest, payload = data.split(b"\n", 3)
        if fmt != FORMAT or k != want.encode() or \
                hashlib.sha256(payload).hexdigest().encode() != digest:
            return None
        return Lark.load(io.BytesIO(payload))
    except Exception:   # a missing, short or unreadable file: build instead
        return None


def save(path: Path, want: str, parser: Lark) -> bool:
    """Write the parser's tables under key ``want``; False when it cannot."""
    buf = io.BytesIO()
    tmp = None
    try:
        parser.save(buf)
        payload = buf.getvalue()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".lark")
        with os.fdopen(fd, "wb") as f:
            f.write(b"\n".join([FORMAT, want.encode(),
                                hashlib.sha256(payload).hexdigest().encode(), payload]))
        os.replace(tmp, path)
        return True
    except Exception:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return False


def cached(grammar: str, options: dict[str, Any], build: Callable[[], Lark],
           where: Path | None = None) -> Lark:
    """The parser of ``grammar`` with ``options`` (a postlex among them),
    from the cache in ``where`` (default: ``place()``) when it holds it,
    else ``build()`` saved there."""
    global last
    d = where if where is not None else place()
    if d is None:
        last = "built, not saved"
        return build()
    k = key(grammar, options, options.get("postlex"))
    path = d / f"kmap-{k}.lark"
    parser = load(path, k)
    if parser is not None:
        last = "loaded"
        return parser
    parser = build()
    last = "built" if save(path, k, parser) else "built, not saved"
    return parser
