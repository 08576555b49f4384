"""Read articles from disk into ``Document``s.

- ``.txt``/``.md``: the canonical text is the file decoded as UTF-8, exactly as read, so a
  citation's offsets index the file itself. The title is the first non-empty line that is
  not page furniture (leading ``#`` stripped for Markdown).
- ``.html``/``.htm``: readable text only (no scripts, styles, navigation, forms); blocks are
  joined with blank lines. Title from ``<title>`` or the first ``<h1>``.
- ``.json``/``.jsonl``: ``title``, ``body`` or ``text``, optional ``url``, ``source``,
  ``published_at``. The canonical text is ``title + "\\n\\n" + body``. One object or a list
  per ``.json`` file, one object per line in ``.jsonl``; record ``n`` is ``name#n``.

Anything else is skipped with a one-line reason (``SkipFile``).
"""
from __future__ import annotations

import json
import os
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


def _read_text(path: Path, max_bytes: int) -> str:
    size = path.stat().st_size
    if size == 0:
        raise SkipFile("empty file")
    if size > max_bytes:
        raise SkipFile(f"too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB; raise NEWSDESK_MAX_FILE_MB)")
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise SkipFile("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SkipFile(f"not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise SkipFile("empty file (only whitespace)")
    return text


def _title_of(text: str, markdown: bool = False) -> str:
    for line in text.splitlines():
        s = line.strip()
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
    title = obj.get("title") if isinstance(obj.get("title"), str) else ""
    title = " ".join(title.split()) or _title_of(body)
    meta = {k: str(obj[k]) for k in ("url", "published_at") if obj.get(k) is not None}
    if obj.get("source") is not None:
        meta["outlet"] = str(obj["source"])
    return _document(source, title, f"{title}\n\n{body}", **meta)


def load_path_report(path: Path, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[list[Document], list[str]]:
    """Documents in one file, plus reasons for records skipped inside it (JSON lists / JSONL).
    Raises SkipFile when the whole file is skipped."""
    root = Path(root).resolve()
    ext = path.suffix.lower()
    if ext not in SUPPORTED:
        raise SkipFile(f"unsupported file type {ext or '(none)'} (use .txt .md .html .json .jsonl)")
    real = path.resolve()
    if path.is_symlink() and root not in real.parents and real != root:
        raise SkipFile("symlink pointing outside the corpus")
    try:
        rel = path.absolute().relative_to(root).as_posix()
    except ValueError:
        rel = real.relative_to(root).as_posix() if root in real.parents else path.name
    text = _read_text(path, max_bytes)
    if ext in TEXT_EXT:
        return [_document(rel, _title_of(text, markdown=ext != ".txt"), text)], []
    if ext in HTML_EXT:
        title, readable = _html_text(text)
        return [_document(rel, title or path.stem, readable)], []
    # JSON / JSONL
    if ext == ".jsonl":
        records = []
        for n, line in enumerate(text.splitlines()):
            if line.strip():
                try:
                    records.append((n, json.loads(line)))
                except ValueError:
                    records.append((n, ValueError(f"line {n + 1} is not valid JSON")))
        many = True
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise SkipFile(f"invalid JSON ({exc.msg} at line {exc.lineno})") from None
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
    return docs, skipped


def load_path(path: Path, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Document]:
    return load_path_report(path, root, max_bytes)[0]


def _walk(paths: list[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_dir():
            for dirpath, dirnames, filenames in os.walk(p, followlinks=False):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if not name.startswith("."):
                        yield Path(dirpath) / name
        else:
            yield p


def iter_corpus(paths: list[Path], root: Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES
                ) -> Iterator[tuple[Path, list[Document] | None, str | None]]:
    """(path, documents, None) for each loadable file, (path, None, reason) for skipped ones.
    Records skipped inside a JSON file are reported as (path, documents, reason-list...)
    through an extra (path, None, reason) entry."""
    if root is None:
        resolved = [p.resolve() for p in paths]
        root = resolved[0] if len(resolved) == 1 and resolved[0].is_dir() else Path(
            os.path.commonpath([str(p.parent if p.is_file() else p) for p in resolved]))
    for path in _walk(paths):
        try:
            docs, skipped = load_path_report(path, root, max_bytes)
        except SkipFile as exc:
            yield path, None, str(exc)
            continue
        except OSError as exc:
            yield path, None, f"unreadable ({exc.strerror or exc})"
            continue
        yield path, docs, None
        for reason in skipped:
            yield path, None, reason


def canonical_text(root: Path, source: str) -> str:
    """The text a citation's offsets point into, for a source id like ``a.txt`` or ``b.jsonl#3``."""
    rel, _, record = source.partition("#")
    path = Path(root) / rel
    docs, _ = load_path_report(path, root, max_bytes=1 << 62)
    if record:
        for d in docs:
            if d.source == source:
                return d.text
        raise KeyError(source)
    return docs[0].text
