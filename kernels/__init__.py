"""Kernel libraries used by the code generators (C for Cortex-M and hosts)."""
