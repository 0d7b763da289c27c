"""jukestudio.audio."""
