"""Coverage-guided fuzzing (atheris) of every surface that reads untrusted bytes; `python -m fuzz`."""
