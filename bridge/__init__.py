"""Kallglot bridge: carrier media streams in, Kallglot real-time translation, translated audio out."""
