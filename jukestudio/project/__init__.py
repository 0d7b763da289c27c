"""jukestudio.project."""
