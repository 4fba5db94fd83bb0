"""Defaults the CLI shows in `--help` and the library uses, in a module that imports
nothing, so that building the command line does not load the data libraries."""

IMPORT_BATCH_LINES = 100_000  # lines per normalized batch of `vnrec import`
RECORD_CHANNELS = "X-TRADE:ALL,X-QUOTE:ALL,R:ALL,MI:ALL,B:ALL,F:ALL"  # `vnrec record`
DUCKDB_THREADS = 2  # DuckDB threads of the analytics commands
