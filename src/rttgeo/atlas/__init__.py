"""rttgeo.atlas room (see DESIGN.md)."""
