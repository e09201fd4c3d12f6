"""Incident files: the age v1 container, Matroska muxing, the writer thread and export."""
