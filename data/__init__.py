"""The bundled sample and the packet-level simulator that makes it (data/simulator.py)."""
