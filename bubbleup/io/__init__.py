"""Reading event files: paths, formats, compression, nested names, schemas, OTLP.

:func:`bubbleup.io.files.read_files` turns paths, globs and directories into one polars
``LazyFrame``; the modules it uses each own one concern:

========================  =============================================================
``bubbleup.io.paths``     expand paths, globs and directories; the kind of each file
                          (format and compression) and a check of its first bytes;
                          hive partition keys
``bubbleup.io.text``      CSV and NDJSON, plain or compressed; malformed JSON lines
``bubbleup.io.otlp``      OpenTelemetry OTLP JSON exports of spans and log records
``bubbleup.io.schema``    struct columns flattened to dotted names; the union of the
                          files' schemas and its widening rules
========================  =============================================================
"""

from bubbleup.io.files import FileSource, read_files

__all__ = ["FileSource", "read_files"]
