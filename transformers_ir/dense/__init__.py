"""dense stages (see DESIGN.md)."""
