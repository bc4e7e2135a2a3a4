"""HDF5 (H5MD 1.1) output: the streaming writer, checkpoints and the reader."""
