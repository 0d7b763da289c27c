"""Frozen entry point of ``jukestudio-cli`` in the PyInstaller bundle.

``jukestudio-cli --bundle-selfcheck`` (only in the bundle) imports every heavy dependency and reads
the packaged data, proving a freshly built bundle is complete (see bundle_selfcheck.py beside this file).
"""

import multiprocessing
import sys

if __name__ == "__main__":
    # A frozen program is its own interpreter: any multiprocessing child re-enters here and must stop.
    multiprocessing.freeze_support()
    if sys.argv[1:] == ["--bundle-selfcheck"]:
        from bundle_selfcheck import main
    else:
        from jukestudio.cli.main import main
    raise SystemExit(main())
