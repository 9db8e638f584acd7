"""CLI subcommands, one module per subject; each registers itself on preempt.cli.app."""
