"""The declared sources and marts: one folder each, a `defs.yaml` naming its component."""
