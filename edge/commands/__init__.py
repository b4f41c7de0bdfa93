"""fetal-edge subcommands: one module each, discovered by edge.cli."""
