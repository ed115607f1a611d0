"""rttgeo.serve room (see DESIGN.md)."""
