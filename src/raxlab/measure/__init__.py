"""Measurements on the hardware at hand. The only layer that touches devices.

`timing` is the shared core (warm-up, adaptive repetition, raw samples); each
measured operation is a small `Spec`. `isolate` runs a point in a child process
with a time limit so a crash, OOM kill or hang costs that point only.
"""
