"""Read articles from disk into ``Document``s.

- ``.txt``/``.md``: the canonical text is the file decoded as UTF-8, exactly as read, so a
  citation's offsets index the file itself. The title is the first non-empty line that is
  not page furniture (leading ``#`` stripped for Markdown).
- ``.html``/``.htm``: readable text only (no scripts, styles, navigation, forms); blocks are
  joined with blank lines. Title from ``<title>`` or the first ``<h1>``.
- ``.json``/``.jsonl``: ``title``, ``body`` or ``text``, optional ``url``, ``source``,
  ``published_at``. The canonical text is ``title + "\\n\\n" + body``. One object or a list
  per ``.json`` file, one object per line in ``.jsonl``; record ``n`` is ``name#n``.

Anything else is skipped with a one-line reason (``SkipFile``): an unknown type, an empty,
binary (NUL bytes, UTF-16), undecodable or too large file, a FIFO or other non-regular
file, a symlink that leads outside the corpus (or loops, or dangles), and a file whose bytes
are identical to one already read in this run ("duplicate of a.txt"). Of two identical
files the first in path order is kept, and a real file is always kept over a symlink to it,
so the choice is the same on every run and the index does not flip between them.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Iterator

from retrieval.clean import _is_furniture, article_spans
from retrieval.errors import SkipFile
from retrieval.types import Document

TEXT_EXT = {".txt", ".md", ".markdown"}
HTML_EXT = {".html", ".htm"}
JSON_EXT = {".json", ".jsonl"}
SUPPORTED = TEXT_EXT | HTML_EXT | JSON_EXT
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


MB = 1024 * 1024
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _read(path: Path, max_bytes: int) -> tuple[str, str]:
    """The file decoded as UTF-8, and the SHA-256 of its bytes. Raises SkipFile."""
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise SkipFile("not a regular file")
    if st.st_size == 0:
        raise SkipFile("empty file")
    if st.st_size > max_bytes:
        raise SkipFile(f"too large ({st.st_size / MB:.1f} MB > {max_bytes / MB:g} MB; raise NEWSDESK_MAX_FILE_MB)")
    blocks, size = [], 0
    with open(path, "rb") as fh:
        while block := fh.read(MB):
            size += len(block)
            if size > max_bytes:  # it grew since stat()
                raise SkipFile(f"too large (> {max_bytes / MB:g} MB; raise NEWSDESK_MAX_FILE_MB)")
            blocks.append(block)
    data = b"".join(blocks)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SkipFile("UTF-16/UTF-32 text; save it as UTF-8")
    if b"\x00" in data:
        raise SkipFile("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SkipFile(f"not valid UTF-8 (byte {exc.start}); save it as UTF-8") from None
    if not text.lstrip("\ufeff").strip():
        raise SkipFile("empty file (only whitespace)")
    return text, hashlib.sha256(data).hexdigest()


def _clean_str(value: str) -> str:
    """JSON strings may hold what no UTF-8 file can: lone surrogates and NULs (``\\ud800``,
    ``\\u0000``). They would break hashing and storage, so they are replaced / dropped."""
    return _SURROGATE.sub("\ufffd", value).replace("\x00", "")


def _title_of(text: str, markdown: bool = False) -> str:
    for line in text.splitlines():
        s = line.strip().lstrip("\ufeff").strip()
        if markdown:
            s = s.lstrip("#").strip()
        if s and not _is_furniture(s, None):
            return s
    return ""


def _document(source: str, title: str, text: str, **meta) -> Document:
    spans = article_spans(text, title)
    if not spans:
        raise SkipFile("no article text after removing page furniture")
    return Document(source=source, title=title, text=text, spans=spans, **meta)


def _html_text(raw: str) -> tuple[str, str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "noscript", "iframe", "nav", "header", "footer", "aside", "form",
                     "svg", "button", "template", "figure"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    h1 = soup.find("h1")
    if not title and h1:
        title = h1.get_text(" ", strip=True)
    if soup.title:
        soup.title.decompose()
    blocks = []
    body = soup.body or soup
    for el in body.find_all(["h1", "h2", "h3", "h4", "p", "li", "blockquote", "pre", "td"]):
        if el.find(["p", "li", "blockquote"]):  # keep the innermost blocks only
            continue
        t = " ".join(el.get_text(" ", strip=True).split())
        if t:
            blocks.append(t)
    if not blocks:
        t = " ".join(body.get_text(" ", strip=True).split())
        blocks = [t] if t else []
    if title and blocks and blocks[0] == title:
        blocks = blocks[1:]
    return title, (title + "\n\n" if title else "") + "\n\n".join(blocks)


def _json_record(obj, source: str) -> Document:
    if not isinstance(obj, dict):
        raise SkipFile("not a JSON object")
    body = obj.get("body") or obj.get("text")
    if not isinstance(body, str) or not body.strip():
        raise SkipFile("no 'body' or 'text' field")
    body = _clean_str(body)
    if not body.strip():
        raise SkipFile("no 'body' or 'text' field")
    title = _clean_str(obj.get("title")) if isinstance(obj.get("title"), str) else ""
    title = " ".join(title.split()) or _title_of(body)
    meta = {k: _clean_str(str(obj[k])) for k in ("url", "published_at") if obj.get(k) is not None}
    if obj.get("source") is not None:
        meta["outlet"] = _clean_str(str(obj["source"]))
    return _document(source, title, f"{title}\n\n{body}", **meta)


def _check_link(path: Path, root: Path) -> Path:
    """The resolved path; SkipFile for a symlink that loops, dangles or leads outside ``root``."""
    try:
        real = path.resolve()
    except (RuntimeError, OSError):  # RuntimeError: "Symlink loop" (Python < 3.13)
        raise SkipFile("symlink loop") from None
    if path.is_symlink():
        if root not in real.parents and real != root:
            raise SkipFile("symlink pointing outside the corpus")
        if not real.exists():
            raise SkipFile("broken symlink (its target does not exist)")
    return real


def _rel_source(path: Path, real: Path, root: Path) -> str:
    try:
        return path.absolute().relative_to(root).as_posix()
    except ValueError:
        return real.relative_to(root).as_posix() if root in real.parents else path.name


def _load(path: Path, root: Path, max_bytes: int) -> tuple[list[Document], list[str], str, str]:
    """(documents, reasons for records skipped inside the file, sha256 of the bytes, source id)."""
    root = Path(root).resolve()
    real = _check_link(path, root)
    ext = path.suffix.lower()
    if ext not in SUPPORTED:
        raise SkipFile(f"unsupported file type {ext or '(none)'} (use .txt .md .html .json .jsonl)")
    rel = _rel_source(path, real, root)
    text, digest = _read(path, max_bytes)
    if ext in TEXT_EXT:
        return [_document(rel, _title_of(text, markdown=ext != ".txt"), text)], [], digest, rel
    text = text.lstrip("\ufeff")  # derived text: a byte-order mark is not content (and json rejects it)
    if ext in HTML_EXT:
        title, readable = _html_text(text)
        return [_document(rel, title or path.stem, readable)], [], digest, rel
    # JSON / JSONL
    if ext == ".jsonl":
        records = []
        for n, line in enumerate(text.splitlines()):
            if line.strip():
                try:
                    records.append((n, json.loads(line)))
                except (ValueError, RecursionError):
                    records.append((n, ValueError(f"line {n + 1} is not valid JSON")))
        many = True
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise SkipFile(f"invalid JSON ({getattr(exc, 'msg', exc)} at line {getattr(exc, 'lineno', '?')})") from None
        except RecursionError:
            raise SkipFile("invalid JSON (nested too deeply)") from None
        many = isinstance(data, list)
        records = list(enumerate(data)) if many else [(0, data)]
    docs, skipped = [], []
    for n, obj in records:
        source = f"{rel}#{n}" if many else rel
        try:
            if isinstance(obj, Exception):
                raise SkipFile(str(obj))
            docs.append(_json_record(obj, source))
        except SkipFile as exc:
            skipped.append(f"record {n}: {exc}")
    if not docs:
        raise SkipFile("no usable articles" + (f" ({skipped[0]})" if skipped else ""))
    return docs, skipped, digest, rel


def load_path_report(path: Path, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[list[Document], list[str]]:
    """Documents in one file, plus reasons for records skipped inside it (JSON lists / JSONL).
    Raises SkipFile when the whole file is skipped."""
    docs, skipped, _, _ = _load(path, root, max_bytes)
    return docs, skipped


def load_path(path: Path, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Document]:
    return load_path_report(path, root, max_bytes)[0]


def _walk(paths: list[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_dir():
            for dirpath, dirnames, filenames in os.walk(p, followlinks=False):
                keep = []
                for d in sorted(dirnames):
                    if d.startswith("."):
                        continue
                    if os.path.islink(os.path.join(dirpath, d)):
                        # never followed; reported (by load) when it leads outside the corpus
                        yield Path(dirpath) / d
                        continue
                    keep.append(d)
                dirnames[:] = keep
                for name in sorted(filenames):
                    if not name.startswith("."):
                        yield Path(dirpath) / name
        else:
            yield p


def _default_root(paths: list[Path]) -> Path:
    resolved = [p.resolve() for p in paths]
    if len(resolved) == 1 and resolved[0].is_dir():
        return resolved[0]
    return Path(os.path.commonpath([str(p.parent if p.is_file() else p) for p in resolved]))


def iter_corpus(paths: list[Path], root: Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES
                ) -> Iterator[tuple[Path, list[Document] | None, str | None]]:
    """(path, documents, None) for each loadable file, (path, None, reason) for skipped ones.
    Records skipped inside a JSON file are reported as extra (path, None, "record n: ...")
    entries after the file's documents.

    Regular files come first (in path order), then symlinks, so that a byte-identical
    duplicate is always the later regular file or the symlink, never the file it copies."""
    root = Path(root).resolve() if root is not None else _default_root(paths)
    walked = list(dict.fromkeys(p.absolute() for p in _walk(paths)))  # a file named twice is read once
    links = [p for p in walked if p.is_symlink()]
    first: dict[str, str] = {}  # sha256 of the bytes -> source id of the file kept
    for path in [p for p in walked if not p.is_symlink()] + links:
        try:
            if path.is_symlink() and path.is_dir():
                _check_link(path, root)  # raises for one leading outside
                continue  # a linked folder inside the corpus: its files are read where they are
            docs, skipped, digest, rel = _load(path, root, max_bytes)
            if digest in first:
                raise SkipFile(f"duplicate of {first[digest]} (same bytes)")
            first[digest] = rel
        except SkipFile as exc:
            yield path, None, str(exc)
            continue
        except OSError as exc:
            yield path, None, f"unreadable ({exc.strerror or exc})"
            continue
        except Exception as exc:  # a loader bug must not abort the whole corpus
            yield path, None, f"could not be loaded ({type(exc).__name__}: {exc})"
            continue
        yield path, docs, None
        for reason in skipped:
            yield path, None, reason


def split_source(source: str) -> tuple[str, int | None]:
    """``"b.jsonl#3"`` -> ``("b.jsonl", 3)``; ``"a#1.txt"`` -> ``("a#1.txt", None)``: only a
    ``#n`` after a JSON file name is a record number, so file names may hold ``#``."""
    rel, sep, record = source.rpartition("#")
    if sep and record.isascii() and record.isdigit() and Path(rel).suffix.lower() in JSON_EXT:
        return rel, int(record)
    return source, None


def canonical_text(root: Path, source: str) -> str:
    """The text a citation's offsets point into, for a source id like ``a.txt`` or ``b.jsonl#3``."""
    rel, record = split_source(source)
    path = Path(root) / rel
    real_root = Path(root).resolve()
    if real_root not in (path.parent.resolve(), *path.parent.resolve().parents):
        raise KeyError(f"{source} is outside the corpus {root}")
    docs, _ = load_path_report(path, root, max_bytes=1 << 62)
    if record is not None:
        for d in docs:
            if d.source == source:
                return d.text
        raise KeyError(source)
    return docs[0].text
