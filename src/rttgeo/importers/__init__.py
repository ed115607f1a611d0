"""Readers of other tools' RTT measurements, as :class:`~rttgeo.models.Sample` streams.

Depends only on models / errors. Each reader is a generator of :class:`Sample` (``rtt_ms`` None =
a lost probe) and :class:`Skipped` records (a line that holds no sample, with its file:line and why);
a malformed line raises :class:`~rttgeo.errors.SamplesError` naming file and line, unless the caller
asks to skip it (then it comes out as a :class:`Skipped` with ``malformed=True``). Nothing is dropped
without a record.

- :func:`read_ping_text`: iputils ``ping -D`` output (IPv4 and IPv6).
- :func:`read_scamper_json`: scamper ``sc_warts2json`` output (ping objects; others are skipped).
- :func:`read_longform`: CSV or Parquet ``target, landmark, rtt_ms[, sent_unix_ns, protocol]``.

RIPE Atlas result JSON is read by :func:`rttgeo.atlas.results.read_atlas_results` (it needs
ripe-atlas-sagan, the ``atlas`` extra).
"""

from rttgeo.importers.longform import LONGFORM_COLUMNS, iter_longform_batches, read_longform
from rttgeo.importers.records import Skipped, sniff_format
from rttgeo.importers.text import read_ping_text, read_scamper_json

__all__ = [
    "LONGFORM_COLUMNS",
    "Skipped",
    "iter_longform_batches",
    "read_longform",
    "read_ping_text",
    "read_scamper_json",
    "sniff_format",
]
