"""Plumbing shared by the library's modules (no physics, no public API)."""
