"""From dump files to the index: parsing dumps, and reindex (incremental, on
both cores)."""
