"""Simulators users run too: Kallglot and a Twilio softphone, built on the same protocol modules."""
