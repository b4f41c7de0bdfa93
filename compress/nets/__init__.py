"""Networks written for fetal-edge (no torchvision/timm); model families are named in compress.nets.families."""
