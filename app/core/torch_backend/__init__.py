"""Torch backend: the models and the frame operations on a torch device (CUDA, ROCm, MPS, CPU)."""
