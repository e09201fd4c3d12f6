"""The tamper-evident audit log: hash chain plus forward-secure MAC."""
