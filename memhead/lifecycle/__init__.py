"""The data lifecycle (issue 20): exporting and importing sessions as JSON lines
(``records``, ``export``, ``importer``), erasing a user (``erase``), backing up a SQLite
store (``backup``). Retention lives in ``memhead.retention``, beside the other workers."""
