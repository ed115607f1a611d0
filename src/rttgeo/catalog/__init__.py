"""rttgeo.catalog room (see DESIGN.md)."""
