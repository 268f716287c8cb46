"""Serving: a model folder loaded safely for inference, the HTTP service, the service in a background process, and
the model card that travels with the folder.

The modules: `classifier` (the folder check, `Classifier` on PyTorch or ONNX Runtime), `onnx_runtime` (the ONNX
export, checked against PyTorch, and its int8 variant), `app` (the FastAPI app, request checks,
micro-batching, `serve`), `background` (`BackgroundServer` for notebooks and tests), `card` (the model card).
The names a notebook uses are importable from here: `from ftlab import serving`, then `serving.Classifier(...)`.
"""

from ftlab.config import RUN_INFO
from ftlab.serving.app import BadRequest, MicroBatcher, create_app, parse_request, serve
from ftlab.serving.background import BackgroundServer, free_port
from ftlab.serving.card import model_card, write_model_card
from ftlab.serving.classifier import (PRECISIONS, RUNTIMES, Classifier, ModelFolderError, check_model_folder,
                                     model_size_mb)
from ftlab.serving.onnx_runtime import ExportError, OnnxLogits

__all__ = [
    "BackgroundServer", "BadRequest", "Classifier", "ExportError", "MicroBatcher", "ModelFolderError", "OnnxLogits",
    "PRECISIONS", "RUNTIMES", "RUN_INFO", "check_model_folder", "create_app", "free_port", "model_card", "model_size_mb",
    "parse_request", "serve", "write_model_card",
]
