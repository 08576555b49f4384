"""Citation checking: a quote is shown only if it is the exact text of its source at
``[start:end]``. This is enforced here, in code, for every backend."""
from __future__ import annotations

from pathlib import Path

from retrieval.types import Citation


class Verifier:
    """Checks quotes against the articles on disk (re-read when a file changes)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._cache: dict[str, tuple[float, str | None]] = {}

    def text(self, source: str) -> str | None:
        from retrieval.loaders import canonical_text

        path = self.root / source.split("#", 1)[0]
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        cached = self._cache.get(source)
        if cached and cached[0] == mtime:
            return cached[1]
        try:
            text = canonical_text(self.root, source)
        except Exception:
            text = None
        self._cache[source] = (mtime, text)
        return text

    def check(self, citation: Citation) -> bool:
        text = self.text(citation.source)
        return (text is not None and 0 <= citation.start < citation.end <= len(text)
                and text[citation.start:citation.end] == citation.quote and citation.quote.strip() != "")
