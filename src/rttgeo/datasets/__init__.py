"""rttgeo.datasets room (see DESIGN.md)."""
