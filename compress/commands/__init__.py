"""fetal-compress subcommands: one module each, discovered by compress.cli."""
