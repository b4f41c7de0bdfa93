"""Workstation side of plane classification: augmentation, teacher, distillation, evaluation."""
