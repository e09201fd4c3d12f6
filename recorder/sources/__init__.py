"""Media sources: built-in test sources and real devices, all behind the `MediaSource` protocol."""
