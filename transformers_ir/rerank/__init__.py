"""rerank stages (see DESIGN.md)."""
