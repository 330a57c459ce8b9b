"""The Kallglot contract: REST client, stream protocol (sans-I/O) and connection, webhooks."""
