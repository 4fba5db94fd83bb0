"""DuckDB over the Parquet history: views, session stats, basis, foreign flow, SQL, verify."""

from vnrec.analytics.connection import DEFAULT_THREADS, VIEW_NAMES, connect, refresh

__all__ = ["DEFAULT_THREADS", "VIEW_NAMES", "connect", "refresh"]
