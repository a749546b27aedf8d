"""generative stages (see DESIGN.md)."""
