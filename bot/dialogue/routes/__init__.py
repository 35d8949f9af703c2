"""The pipeline's routes, one idea each."""
