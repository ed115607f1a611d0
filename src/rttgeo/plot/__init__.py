"""rttgeo.plot room (see DESIGN.md)."""
