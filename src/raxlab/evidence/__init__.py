"""Evidence a team already has, read into the store: nccl-tests logs of its fabric
(`nccltests`, `importer.import_nccl_tests`) and training logs as calibration points (`trainlog`).

Layer: above predict/ (a training log's points are compared with the projection), below plan/.
"""
