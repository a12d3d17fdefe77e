"""Core layer: pure types shared by every other layer (diagnostics, units). No I/O here."""
