"""jukestudio.engine."""
