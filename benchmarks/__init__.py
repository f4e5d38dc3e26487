"""RA:X benchmarks: speed and accuracy targets, each printed as a table (`make bench`)."""
