"""Head biometry on the workstation: HC18 dataset, training (teacher, distilled student), evaluation, export."""
