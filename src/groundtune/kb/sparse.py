"""BM25 sparse vectors computed by groundtune, so every Qdrant backend ranks identically.

Documents get BM25 term-frequency weights (k1, b, and an average length frozen in the catalog);
queries get IDF weights computed from document frequencies the catalog keeps for the latest
chunks. Qdrant only takes the dot product, which local mode and a server compute the same way
(Qdrant's own `Modifier.IDF` counts deleted points on a server until its index is rebuilt, while
local mode does not, so the two would rank differently after an update). This module knows
nothing about storage: it maps text to term ids and weights.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping

from groundtune.core.configs import SparseScheme

# The classic Lucene English stop list (the one `bm25s` uses for "en").
STOPWORDS_EN = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with".split()
)
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def terms(text: str, scheme: SparseScheme) -> list[str]:
    """The scheme's tokens of `text`, in order (stopwords removed)."""
    words = _TOKEN.findall(text.lower())
    if scheme.stopwords == "en":
        return [w for w in words if w not in STOPWORDS_EN]
    return words


def term_id(term: str) -> int:
    """A stable 32-bit id for a term (CRC32; collisions are rare and only merge two words' counts)."""
    return zlib.crc32(term.encode("utf-8"))


def term_counts(text: str, scheme: SparseScheme) -> tuple[Counter[int], int]:
    """(term id -> frequency, document length in scheme tokens)."""
    toks = terms(text, scheme)
    return Counter(term_id(t) for t in toks), len(toks)


def document_vector(
    counts: Mapping[int, int], length: int, avgdl: float, scheme: SparseScheme
) -> tuple[list[int], list[float]]:
    """Sorted (indices, values) of the BM25 document-side weights tf / (tf + k1·(1-b+b·dl/avgdl)).

    Lucene's form (no constant (k1+1) factor, which changes no ranking), so scores equal Lucene's and bm25s'.
    """
    norm = scheme.k1 * (1.0 - scheme.b + scheme.b * length / max(avgdl, 1e-9))
    indices = sorted(counts)
    values = [counts[i] / (counts[i] + norm) for i in indices]
    return indices, values


def idf(df: int, n: int) -> float:
    """Lucene/Qdrant IDF: ln(1 + (N - df + 0.5) / (df + 0.5))."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def query_terms(text: str, scheme: SparseScheme) -> list[int]:
    """Unique term ids of a query, in first-seen order."""
    return list(dict.fromkeys(term_id(t) for t in terms(text, scheme)))


def query_vector(ids: Iterable[int], df: Mapping[int, int], n: int) -> tuple[list[int], list[float]]:
    """Sorted (indices, values): IDF weights of the query terms present in the collection."""
    present = sorted(i for i in set(ids) if df.get(i, 0) > 0)
    return present, [idf(df[i], n) for i in present]
