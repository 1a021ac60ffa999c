"""Humanoid Everyday (USC GVL; Unitree G1 and H1): `adapter` (discovery, reading, language), `task` (a task's zip
read in place or its extracted folder), `steps` (an episode's `data.json` into streams, field by field), `camera`
(the egocentric image sequence, decoded lazily)."""
