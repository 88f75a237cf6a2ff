"""avsal: weakly-supervised audio-visual fixation prediction (STANet, CVPR 2021), reproducibly."""

__version__ = "0.1.0"
