"""Import and export of intelligence: STIX 2.1 bundles, MISP event JSON, CSV of indicators.

- `common.py`: size limit, JSON reading, the import report and its refusal, import audit.
- `stix_export.py`: what a user may see (only through `khien.intel.tlp`) as a STIX 2.1 bundle.
- `stix_import.py`: a STIX bundle file into a collection.
- `misp.py`: MISP event JSON in and out (misp-stix, pymisp).
- `csv_io.py`: CSV of indicators in and out.
- `run.py`: one entry point per direction for the API, the pages and the commands.

Settings read (with getattr): KHIEN_INTEL_IMPORT_MAX_BYTES (default: KHIEN_TAXII_MAX_CONTENT_LENGTH),
KHIEN_INTEL_MISP_EXPORT_MAX_OBJECTS (20000); federation: KHIEN_FEDERATION_PAGE_SIZE (1000),
KHIEN_FEDERATION_TIMEOUT (30 s).

Every import is all-or-nothing: it goes through `services.do_add_objects` (rights, validation,
audit) inside one transaction; a rejected file raises `ImportRejected` with every rejected
object or row and writes nothing.
"""
