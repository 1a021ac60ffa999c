"""EPIC-KITCHENS-100 narrated action segments, one actionless episode per segment (`adapter.py`)."""
