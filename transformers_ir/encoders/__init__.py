"""encoders stages (see DESIGN.md)."""
