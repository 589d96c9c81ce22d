"""Import and export of intelligence: STIX 2.1 bundles, MISP event JSON, CSV of indicators.

- `common.py`: size limit, JSON reading, the import report and its refusal, import audit.
- `stix_export.py`: what a user may see (only through `khien.intel.tlp`) as a STIX 2.1 bundle.
- `stix_import.py`: a STIX bundle file into a collection.
- `misp.py`: MISP event JSON in and out (misp-stix, pymisp).
- `csv_io.py`: CSV of indicators in and out.

Every import is all-or-nothing: it goes through `services.do_add_objects` (rights, validation,
audit) inside one transaction; a rejected file raises `ImportRejected` with every rejected
object or row and writes nothing.
"""
