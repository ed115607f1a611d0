"""rttgeo.measure room (see DESIGN.md)."""
