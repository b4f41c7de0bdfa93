"""fetal-edge device runtime.

Runs on the device next to the probe. Imports only numpy, OpenCV, onnxruntime and paho-mqtt
(TensorRT and pycuda lazily, when a firmware config asks for them). Never torch, nncf or compress/.
"""

__version__ = "0.1.0"
