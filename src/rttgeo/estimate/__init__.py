"""rttgeo.estimate room (see DESIGN.md)."""
