"""Command-line interface: one thin module per command (see main.py for discovery)."""
