"""jukestudio.model."""
