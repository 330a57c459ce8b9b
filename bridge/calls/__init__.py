"""Calls: the call model, its lifecycle, routing of audio between legs and Kallglot."""
