"""Import and export work, no HTTP: the importer, the loader that writes rows, the export that
reads them, the inference of a new table, the ledger of imports and the background jobs."""
