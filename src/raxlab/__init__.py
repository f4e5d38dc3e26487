"""RA:X ("Racks"): measure a workload here, project it onto clusters, recommend what to buy."""

__version__ = "0.1.0"
