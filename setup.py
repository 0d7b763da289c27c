"""Ships the repository's ``resources/`` folder inside the wheel as ``jukestudio.resources``.

Everything else lives in pyproject.toml; this file only exists because the package list must
combine the discovered ``jukestudio*`` packages with that mapped data folder.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["jukestudio", "jukestudio.*"]), "jukestudio.resources"],
    package_dir={"jukestudio.resources": "resources"},
    package_data={"jukestudio.resources": ["vocab/*", "icons/*", "models/*/*", "*.md"]},
    include_package_data=False,
)
