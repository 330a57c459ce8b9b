"""One module per carrier: media-stream protocol (sans-I/O), signatures, call control."""
