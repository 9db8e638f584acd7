"""`python -m preempt` is the `preempt` command."""

from preempt.cli import main

main()
