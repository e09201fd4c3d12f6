"""The control plane: protocol v1 messages, the enrolled-client allowlist and the ZeroMQ server."""
