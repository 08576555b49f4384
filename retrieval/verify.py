"""Citation checking: a quote is shown only if it is the exact text of its source at
``[start:end]``. This is enforced here, in code, for every backend.

A citation is rejected when its source is not an article file inside the corpus (an
absolute path, ``..``, a symlink leading out), when its offsets are not whole numbers with
``0 <= start < end <= len(text)``, when its quote is blank, or when the text there differs.
"""
from __future__ import annotations

from pathlib import Path

from retrieval.types import Citation


def _is_offset(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Verifier:
    """Checks quotes against the articles on disk (re-read when a file changes)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._cache: dict[str, tuple[tuple[int, int], str | None]] = {}

    def text(self, source: str) -> str | None:
        """The canonical text of ``source``, or None when it is not a loadable article of the corpus."""
        from retrieval.loaders import canonical_text, split_source

        if not isinstance(source, str) or not source:
            return None
        path = self.root / split_source(source)[0]
        try:
            st = path.stat()
        except (OSError, ValueError):  # ValueError: a NUL in the name
            return None
        key = (st.st_mtime_ns, st.st_size)  # a rewrite within one mtime tick usually changes the size
        cached = self._cache.get(source)
        if cached and cached[0] == key:
            return cached[1]
        try:
            text = canonical_text(self.root, source)
        except Exception:
            text = None
        self._cache[source] = (key, text)
        return text

    def check(self, citation: Citation) -> bool:
        start, end, quote = citation.start, citation.end, citation.quote
        if not (_is_offset(start) and _is_offset(end) and isinstance(quote, str)) or not quote.strip():
            return False
        text = self.text(citation.source)
        return text is not None and 0 <= start < end <= len(text) and text[start:end] == quote
