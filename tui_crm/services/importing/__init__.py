"""Bringing records in from files: amoCRM's own CSV exports, plain CSV with a
saved column mapping, and vCard.

- ``detect``: encoding, delimiter and line endings of a CSV, sniffed from
  its first bytes (never asked);
- ``amocrm_layout``: amoCRM's Russian column names mapped to our fields;
- ``profiles``: named mappings (columns, pipelines, stages) kept as TOML in
  the config dir, for plain CSV and for mapping unknown stages;
- ``reader``: streams a file into ``SourceRow`` values, one per record;
- ``rows``: validates a row into what will be written (or why not);
- ``planner`` / ``runner``: matching, batches, undo.
"""
