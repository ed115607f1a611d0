"""rttgeo.store room (see DESIGN.md)."""
