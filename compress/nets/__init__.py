"""Networks written for fetal-edge (no torchvision/timm)."""

# Head-student architecture names, here (torch-free) so command-line parsers can offer them without importing torch.
HEAD_ARCHS = ("ds-seg", "sono-seg", "sono-seg-ctx", "sono-seg-l")
SONO_HEAD_ARCHS = ("sono-seg", "sono-seg-ctx", "sono-seg-l")   # encoders cut from SonoNet-16, fixed widths
