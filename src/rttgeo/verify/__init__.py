"""rttgeo.verify room (see DESIGN.md)."""
