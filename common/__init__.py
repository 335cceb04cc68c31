"""Shared code of the three pipeline scripts (see README.md, "Layout")."""
