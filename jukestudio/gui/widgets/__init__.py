"""The window's panels, views and dialogs: each a Qt widget that shows state and emits what the
musician did. They hold no job logic; ``main_window`` wires them to the ``Studio`` facade."""
