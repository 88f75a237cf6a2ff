"""Run a trained STA net on any video (``avsal predict``): model loading, input, outputs."""

from avsal.inference.model import LoadedModel, load_model
from avsal.inference.predict import predict_video

__all__ = ["LoadedModel", "load_model", "predict_video"]
