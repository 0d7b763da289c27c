"""jukestudio.gui."""
