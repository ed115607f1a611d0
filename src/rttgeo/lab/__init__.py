"""rttgeo.lab room (see DESIGN.md)."""
