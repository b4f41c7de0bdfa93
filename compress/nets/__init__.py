"""Networks written for fetal-edge (no torchvision/timm)."""
