"""fetal-edge workstation pipeline: data readers, training, distillation, pruning, quantisation, export.

Needs the `compress` extra (torch, onnx, nncf, torch-pruning). May import edge/; edge/ never imports this.
"""

__version__ = "0.1.0"
