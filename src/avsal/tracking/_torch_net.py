"""Rebuild a torch net from a builder spec + state_dict, and call it on named numpy arrays.

Shared by ``register_torch_model`` (to infer the signature from real outputs) and the
models-from-code file ``torch_pyfunc.py`` (to serve), so both run the net the same way.
No whole model is ever pickled: the registry holds code (builder name + kwargs as JSON) and
tensors (a state_dict read with ``weights_only=True``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np


def resolve_builder(ref: str) -> Callable[..., Any]:
    """``"package.module:function"`` -> the function (imported, never unpickled)."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"builder must look like 'package.module:function', got {ref!r}")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"builder {ref!r} is not callable")
    return obj


def build_net(spec: Mapping[str, Any], state_dict_path: str | Path) -> Any:
    """The net of ``spec`` with the weights of ``state_dict_path``, in eval mode on CPU."""
    import torch

    net = resolve_builder(spec["builder"])(**dict(spec.get("kwargs") or {}))
    state = torch.load(str(state_dict_path), map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    net.eval()
    return net


def _to_numpy(out: Any) -> Any:
    import torch

    if isinstance(out, torch.Tensor):
        return out.detach().cpu().numpy()
    if isinstance(out, Mapping):
        return {str(k): _to_numpy(v) for k, v in out.items()}
    if isinstance(out, (tuple, list)):
        return {f"output_{i}": _to_numpy(v) for i, v in enumerate(out)}
    return np.asarray(out)


def predict(net: Any, fn_name: str, inputs: Mapping[str, Any]) -> Any:
    """Call ``net.<fn_name>(**tensors)`` without grad; tensors back as numpy.

    Returns an array, or a dict of arrays for dict/tuple outputs (tuples -> ``output_<i>``).
    """
    import torch

    tensors = {str(k): torch.as_tensor(np.asarray(v)) for k, v in inputs.items()}
    with torch.inference_mode():
        return _to_numpy(getattr(net, fn_name)(**tensors))
