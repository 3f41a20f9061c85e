"""Constants shared by the connectors: retries, timeouts, batching."""

from __future__ import annotations

MAX_ATTEMPTS = 6
RETRY_BUDGET_SECONDS = 120.0
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 60.0
# Pages are gathered into Arrow batches of about this many rows before dlt writes them:
# large enough that per-batch overhead vanishes, small enough that memory stays flat.
BATCH_ROWS = 5_000
PROGRESS_EVERY_SECONDS = 5.0
# A full listing with this share fewer records than the copy holds is refused as a
# suspected lockout or partial outage.
MAX_SHRINK_SHARE = 0.2
# DuckDB takes most of the machine's memory by default. A fixed bound keeps a sync's
# memory flat as data grows (DuckDB spills to disk past it): every connection the
# connectors open uses it. A table's first load is appended, not merged, so it no longer
# needs room to sort: loading 1M charges peaked at 426MB RSS with 256MB, 382MB with 96MB,
# in the same time within the run's noise (the phases measured one by one).
DUCKDB_CONFIG = {"memory_limit": "96MB", "threads": "1", "preserve_insertion_order": "false"}
# How every vendor table is written: merged on its primary key, the newest change winning
# when a load holds a record twice. Never `replace`: a vendor can never shrink the copy.
MERGE_HINTS: dict = {
    "write_disposition": {"disposition": "merge", "strategy": "delete-insert"},
    "columns": {"_changed_at": {"dedup_sort": "desc"}},
}
# Tables live in each vendor file's default schema, so `SELECT * FROM charges` works in
# stripe.duckdb and `stripe.charges` works wherever the files are attached by vendor name.
DATASET = "main"
# dlt's tables in each vendor file: the loads it completed, its state (cursors) per load, and
# its schema versions. Snapshotted with the copy; never a dataset a person reads.
DLT_STATE_TABLES = ("_dlt_loads", "_dlt_pipeline_state", "_dlt_version")
