"""Head biometry on the device: probability map -> robust ellipse -> HC / BPD / OFD in mm (numpy + OpenCV)."""
