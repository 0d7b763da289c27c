"""jukestudio.model.weights."""
