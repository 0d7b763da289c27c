"""jukestudio.engine: jobs end to end, without Qt.

``jobs`` creates a job folder, ``runner`` runs/resumes/cancels it, ``finish`` turns its codes into the
project's takes, ``state`` is the one reader and writer of a job folder, ``decode`` decodes codes to
audio. The window and the CLI call these same functions (docs/architecture.md).
"""
