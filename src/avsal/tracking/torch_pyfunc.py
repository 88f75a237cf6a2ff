"""MLflow "models from code" entry for torch nets stored as builder spec + state_dict.

MLflow copies this file into the logged model and executes it at load time; ``load_context``
rebuilds the net by importing the builder named in the ``builder`` artifact (JSON) and loading
the ``state_dict`` artifact with ``torch.load(weights_only=True)``. Nothing is unpickled, so a
registered model cannot run arbitrary code from its artifacts and survives refactors that keep
the builder's name and the state_dict keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
from mlflow.pyfunc import PythonModel

from avsal.tracking._torch_net import build_net, predict


class TorchStateDictModel(PythonModel):
    """pyfunc over a net taking keyword tensors: input is a dict of named numpy arrays."""

    # The signature (tensor specs from the input example) is what MLflow enforces on input.
    # Its type-hint validation cannot describe a dict of arrays and would warn (or fail) on
    # every load, under a warnings filter that user code cannot override.
    _skip_type_hint_validation = True

    def load_context(self, context: Any) -> None:
        self.spec = json.loads(Path(context.artifacts["builder"]).read_text())
        self.net = build_net(self.spec, context.artifacts["state_dict"])
        self.fn_name = self.spec.get("predict_fn", "forward")

    # Unannotated on purpose: MLflow derives a (failing, noisy) schema from any hint here.
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        if not isinstance(model_input, dict):  # a DataFrame of one row per input name, say
            model_input = {str(k): model_input[k] for k in model_input}
        return predict(self.net, self.fn_name, model_input)


mlflow.models.set_model(TorchStateDictModel())
