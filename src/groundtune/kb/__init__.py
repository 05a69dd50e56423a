"""The knowledge base: parse files and records, chunk them with the embedder's tokenizer, keep a
catalog (every document version, chunks, BM25 statistics) and a Qdrant index, and serve THE
retriever (dense, sparse or hybrid) that data building and serving share.

Library functions mirror the CLI (`create`, `add`, `remove`, `list_kbs`, `show`, `search`,
`reindex`, `delete`); `open_kb(name)` returns a `KnowledgeBase` to keep open. Importing this
package does not import torch, numpy or qdrant_client.
"""

from groundtune.kb.filters import SearchFilters
from groundtune.kb.ingest import AddSummary, FileError, RemoveSummary
from groundtune.kb.knowledge_base import KnowledgeBase, open_kb
from groundtune.kb.manage import add, create, delete, list_kbs, reindex, remove, search, show
from groundtune.kb.records import RecordFields
from groundtune.kb.retrieve import Retriever, RetrieverConfig
from groundtune.kb.settings import KBSettings
from groundtune.kb.sparse import SparseScheme

__all__ = [
    "AddSummary",
    "FileError",
    "KBSettings",
    "KnowledgeBase",
    "RecordFields",
    "RemoveSummary",
    "Retriever",
    "RetrieverConfig",
    "SearchFilters",
    "SparseScheme",
    "add",
    "create",
    "delete",
    "list_kbs",
    "open_kb",
    "reindex",
    "remove",
    "search",
    "show",
]
