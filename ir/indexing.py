"""Indexing ops: concat, slice, pad, broadcast, gather, take (embedding).

(Filled in by the shape/indexing ops work of issue 3.)
"""

from __future__ import annotations

INDEXING_OPS: list = []
