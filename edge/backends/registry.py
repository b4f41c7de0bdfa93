from edge.registry import Registry

BACKENDS: Registry = Registry("backend")
