"""Parquet storage: schemas, columnar normalization, part files, compaction."""
