"""Services: thin run loops wiring streams and the database to the pure cores.

Each service module exposes `run(settings.<service>, bus=..., engine=..., stop=...)`; the CLI
builds the dependencies once and `preempt up` runs them side by side on one in-process bus.
"""
