"""`python -m jukestudio` opens the workstation window."""

from jukestudio.gui.app import main

if __name__ == "__main__":
    raise SystemExit(main())
