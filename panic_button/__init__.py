"""panic-button: enrolled clients that trigger, clear and watch a room's recorder."""
