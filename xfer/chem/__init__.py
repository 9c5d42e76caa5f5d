"""Molecules, boxes and the classical OPLS-AA force field."""
