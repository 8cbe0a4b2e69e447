"""Latency: end-to-end measurement, per-device lookup tables, profiling, validation and importers."""

from nasbench.latency.correction import Correction, calibrate
from nasbench.latency.importers import import_profile, list_formats, register_importer
from nasbench.latency.measure import LatencyMeasurement, measure_latencies, measure_latency
from nasbench.latency.runtime import Protocol, Stats, device_name
from nasbench.latency.shipped import latency_table, shipped_table
from nasbench.latency.table import (
    BlockKey,
    Entry,
    LatencyTable,
    LatencyTableError,
    MissingEntry,
    SkeletonKey,
    block_key,
    skeleton_key,
)

__all__ = [
    "BlockKey",
    "Correction",
    "Entry",
    "LatencyMeasurement",
    "LatencyTable",
    "LatencyTableError",
    "MissingEntry",
    "Protocol",
    "SkeletonKey",
    "Stats",
    "block_key",
    "calibrate",
    "import_profile",
    "latency_table",
    "list_formats",
    "register_importer",
    "shipped_table",
    "device_name",
    "measure_latencies",
    "measure_latency",
    "skeleton_key",
]
