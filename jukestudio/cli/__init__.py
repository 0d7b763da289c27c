"""Headless command line (`jukestudio-cli`): model store and sampling jobs, for a GPU box without a screen."""
