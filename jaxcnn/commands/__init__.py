"""Subcommands of the ``jaxcnn`` CLI, one module each."""
