"""Packaging: the Linux .desktop entry and icon, the PyInstaller spec, the NSIS installer script.

The installer script is compiled with makensis when it is installed (CI installs Debian's `nsis`).
Building the PyInstaller bundle takes minutes, so that test runs only with JUKESTUDIO_BUILD_BUNDLE=1.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGING = REPO / "packaging"
DESKTOP = PACKAGING / "linux" / "jukestudio.desktop"
SPEC = PACKAGING / "jukestudio.spec"
NSI = REPO / "installer.nsi"
ICO = PACKAGING / "jukestudio.ico"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _load_build() -> ModuleType:
    # packaging/ is not a Python package (its name would shadow PyPA's `packaging`): load the file.
    spec = importlib.util.spec_from_file_location("jukestudio_packaging_build", PACKAGING / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


# ---- Linux desktop entry and icon -------------------------------------------------------------------


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entry_starts_the_gui_script_with_the_shipped_icon() -> None:
    entry = _desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Terminal"] == "false"
    program = entry["Exec"].split()[0]
    assert program in _pyproject()["project"]["gui-scripts"], "Exec must run the gui-script"
    assert (PACKAGING / "linux" / f"{entry['Icon']}.svg").is_file(), "Icon names the SVG shipped beside it"
    assert "AudioVideo" in entry["Categories"].split(";")


def test_desktop_entry_passes_desktop_file_validate() -> None:
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        pytest.skip("desktop-file-validate not installed (Debian: desktop-file-utils)")
    result = subprocess.run([validator, str(DESKTOP)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell script")
def test_linux_install_script_installs_and_removes_only_the_program(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for program in ("jukestudio", "jukestudio-cli"):
        (bundle / program).write_text("#!/bin/sh\necho jukestudio 9\n", encoding="utf-8")
        (bundle / program).chmod(0o755)
    build.add_linux_files(bundle)
    prefix = tmp_path / "prefix"
    model_store = prefix / "share" / "jukestudio" / "models" / "m.safetensors"  # ~/.local/share/jukestudio
    model_store.parent.mkdir(parents=True)
    model_store.write_text("weights", encoding="utf-8")
    env = {**os.environ, "PREFIX": str(prefix)}

    subprocess.run([str(bundle / "install.sh")], check=True, env=env, capture_output=True, timeout=30)
    cli = subprocess.run([str(prefix / "bin" / "jukestudio-cli")], capture_output=True, text=True, timeout=30)
    assert cli.stdout == "jukestudio 9\n"
    installed = prefix / "share" / "applications" / "jukestudio.desktop"
    assert f"Exec={prefix}/lib/jukestudio/jukestudio\n" in installed.read_text(encoding="utf-8")
    assert (prefix / "share" / "icons" / "hicolor" / "scalable" / "apps" / "jukestudio.svg").is_file()

    subprocess.run([str(bundle / "install.sh"), "--uninstall"], check=True, env=env, capture_output=True, timeout=30)
    left = sorted(p.relative_to(prefix).as_posix() for p in prefix.rglob("*") if p.is_file() or p.is_symlink())
    left = [name for name in left if not name.endswith("mimeinfo.cache")]  # update-desktop-database's index
    assert left == ["share/jukestudio/models/m.safetensors"]


def test_icon_svg_is_square_svg() -> None:
    root = ET.parse(PACKAGING / "linux" / "jukestudio.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 256 256"


def test_windows_icon_holds_png_images_of_the_sizes_it_declares() -> None:
    data = ICO.read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data, 0)
    assert (reserved, kind) == (0, 1)
    sizes = set()
    for index in range(count):
        width, height, _, _, _, _, length, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * index)
        png = data[offset : offset + length]
        assert png.startswith(PNG_SIGNATURE) and len(png) == length
        png_width, png_height = struct.unpack(">II", png[16:24])  # IHDR follows the signature
        assert (png_width, png_height) == (width or 256, height or 256)
        sizes.add(png_width)
    assert {16, 32, 48, 256} <= sizes


# ---- PyInstaller spec ---------------------------------------------------------------------------------


def _spec_tree() -> ast.Module:
    return ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))


def _calls(tree: ast.Module, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
    ]


def test_spec_makes_the_two_entry_points_of_pyproject() -> None:
    project = _pyproject()["project"]
    programs = {}
    for call in _calls(_spec_tree(), "EXE"):
        keywords = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg in ("name", "console")}
        programs[keywords["name"]] = keywords["console"]
    assert programs == {
        **{name: False for name in project["gui-scripts"]},  # windowed
        **{name: True for name in project["scripts"]},
    }
    assert len(_calls(_spec_tree(), "COLLECT")) == 1, "one folder shared by both programs"


def test_spec_names_files_that_exist() -> None:
    text = SPEC.read_text(encoding="utf-8")
    launchers = re.findall(r'LAUNCHERS / "([^"]+)"', text)
    assert sorted(launchers) == ["cli_main.py", "gui_main.py"]
    for launcher in launchers:
        source = (PACKAGING / "launchers" / launcher).read_text(encoding="utf-8")
        compile(source, launcher, "exec")
    assert ICO.is_file()
    assert (REPO / "resources" / "__init__.py").is_file()
    assert (REPO / "resources" / "vocab" / "LICENSE").is_file()


def test_spec_hidden_imports_exist() -> None:
    """A misspelt hidden import only warns in PyInstaller and leaves a hole in the bundle."""
    assignment = next(
        node
        for node in _spec_tree().body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "hiddenimports"
    )
    names = [ast.literal_eval(element) for element in assignment.value.right.elts]
    assert "torch" in names and "PySide6.QtSvg" in names
    sys.path.insert(0, str(PACKAGING / "launchers"))
    try:
        missing = [name for name in names if importlib.util.find_spec(name) is None]
    finally:
        sys.path.remove(str(PACKAGING / "launchers"))
    assert missing == []


def test_spec_excludes_test_tools_and_bundles_no_weights() -> None:
    text = SPEC.read_text(encoding="utf-8")
    for excluded in ("tests", "pytest", "hypothesis", "transformers"):
        assert f'"{excluded}"' in text
    weights = [p for p in (REPO / "resources").rglob("*") if p.suffix in (".safetensors", ".pth", ".bin", ".tar")]
    bundled = REPO / "resources" / "models" / "jukestudio-tiny"
    others = [p for p in weights if p.parent != bundled]
    assert others == [], "model weights live in the user's model store; only jukestudio-tiny ships in resources/"
    assert sum(p.stat().st_size for p in weights) <= 40_000_000, "the bundled model must stay under 40 MB"


# ---- Versions and licenses ----------------------------------------------------------------------------


def test_version_comes_from_pyproject() -> None:
    assert build.project_version() == _pyproject()["project"]["version"]


@pytest.mark.parametrize(
    ("version", "numeric"),
    [("0.1.0", "0.1.0.0"), ("1.2rc1", "1.2.0.0"), ("2.0.1.dev3+g12ab", "2.0.1.0"), ("1.2.3.4.5", "1.2.3.4")],
)
def test_numeric_version_has_four_numbers(version: str, numeric: str) -> None:
    assert build.numeric_version(version) == numeric


def test_cuda_build_is_told_by_the_torch_wheel_label() -> None:
    assert build.is_cuda_build("2.13.0+cu128") and build.is_cuda_build("2.13.0+cu126")
    assert not build.is_cuda_build("2.13.0+cpu")
    assert not build.is_cuda_build("2.13.0+rocm6.4")


def test_licenses_file_holds_our_license_then_jukebox_noncommercial_license(tmp_path: Path) -> None:
    written = build.write_licenses(tmp_path)
    raw = written.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "a BOM makes NSIS' license page read UTF-8"
    assert b"\n" not in raw.replace(b"\r\n", b""), "Windows line ends throughout"
    text = raw[3:].decode("utf-8").replace("\r\n", "\n")
    ours = (REPO / "LICENSE").read_text(encoding="utf-8").strip()
    jukebox = (REPO / "resources" / "vocab" / "LICENSE").read_text(encoding="utf-8").strip()
    assert "Noncommercial" in jukebox
    assert ours in text and jukebox in text
    assert text.index(ours) < text.index(jukebox)


# ---- Installer script ----------------------------------------------------------------------------------


def _fake_bundle(root: Path) -> Path:
    (root / "_internal" / "torch" / "lib").mkdir(parents=True)
    for relative in ("jukestudio.exe", "jukestudio-cli.exe", "_internal/torch/lib/c10.dll", "_internal/a$b.txt"):
        (root / relative).write_text("x", encoding="utf-8")
    (root / "_internal" / "empty").mkdir()
    return root


def _run_uninstall(commands: str, instdir: Path) -> None:
    """Carry out the generated Delete/RMDir lines with NSIS' meaning (RMDir without /r: only if empty)."""
    for line in commands.splitlines():
        if line.startswith(";"):
            continue
        verb, quoted = line.split(" ", 1)
        assert quoted.startswith('"$INSTDIR\\') and quoted.endswith('"'), line
        relative = quoted[len('"$INSTDIR\\') : -1].replace("$$", "$").replace("\\", "/")
        path = instdir / relative
        if verb == "Delete":
            path.unlink(missing_ok=True)
        elif verb == "RMDir":
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        else:
            pytest.fail(f"unexpected command {line!r}")


def test_uninstall_list_removes_the_program_and_keeps_user_files(tmp_path: Path) -> None:
    bundle = _fake_bundle(tmp_path / "bundle")
    commands = build.uninstall_commands(bundle)
    assert "/r" not in commands
    assert '"$INSTDIR\\_internal\\a$$b.txt"' in commands, "a $ in a file name is escaped for NSIS"
    # An install folder where the user also keeps a model store and a project.
    instdir = tmp_path / "install"
    shutil.copytree(bundle, instdir)
    user_files = [instdir / "models" / "1b_lyrics" / "prior_0.safetensors", instdir / "_internal" / "my.song"]
    for path in user_files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("mine", encoding="utf-8")
    _run_uninstall(commands, instdir)
    left = sorted(p.relative_to(instdir).as_posix() for p in instdir.rglob("*"))
    assert left == [
        "_internal",
        "_internal/my.song",
        "models",
        "models/1b_lyrics",
        "models/1b_lyrics/prior_0.safetensors",
    ]


def _uninstall_section(text: str) -> str:
    start = text.index('Section "Uninstall"')
    return text[start : text.index("SectionEnd", start)]


def test_nsi_uninstaller_never_touches_user_data() -> None:
    section = _uninstall_section(NSI.read_text(encoding="utf-8"))
    assert "/r" not in section, "no recursive delete in the uninstaller"
    for user_folder in ("$LOCALAPPDATA", "$APPDATA", "$DOCUMENTS", "$PROFILE", "models", "projects"):
        assert user_folder not in section
    assert '!include "${UNINSTALL_LIST}"' in section


def test_nsi_requires_exactly_the_defines_build_py_passes(tmp_path: Path) -> None:
    text = NSI.read_text(encoding="utf-8")
    required = set(re.findall(r"!ifndef (\w+)\s+!error", text))
    command = build.makensis_command(tmp_path, tmp_path / "setup.exe", tmp_path / "list.nsh")
    passed = {arg[2:].split("=", 1)[0] for arg in command if arg.startswith("-D")}
    assert required == {"BUNDLE_DIR", "VERSION", "VERSION_NUMERIC", "UNINSTALL_LIST"}
    assert required <= passed
    assert command[-1] == str(NSI)
    icon = re.search(r'!define APP_ICON "\$\{__FILEDIR__\}\\(.+)"', text)
    assert icon and (REPO / icon.group(1).replace("\\", "/")).is_file()


def test_installer_refuses_a_folder_without_the_programs(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"no jukestudio\.exe"):
        build.build_installer(tmp_path, tmp_path / "out")


makensis = pytest.mark.skipif(shutil.which("makensis") is None, reason="makensis not installed (Debian: nsis)")


@makensis
def test_check_installer_script_compiles_installer() -> None:
    script = PACKAGING / "check_installer.sh"
    assert os.access(script, os.X_OK), ".ci/run only runs the check when the script is executable"
    result = subprocess.run([str(script)], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "installer.nsi compiles: jukestudio-" in result.stdout


@makensis
def test_makensis_fails_on_a_bundle_without_licenses(tmp_path: Path) -> None:
    """The check can fail: the license page needs the bundle's LICENSES.txt."""
    bundle = _fake_bundle(tmp_path / "bundle")
    listing = tmp_path / "list.nsh"
    listing.write_text(build.uninstall_commands(bundle), encoding="utf-8")
    command = build.makensis_command(bundle, tmp_path / "setup.exe", listing, shutil.which("makensis"))
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "LICENSES.txt" in result.stdout + result.stderr
    assert not (tmp_path / "setup.exe").exists()


@makensis
def test_installer_builds_from_a_fake_windows_bundle(tmp_path: Path) -> None:
    bundle = _fake_bundle(tmp_path / "bundle")
    setup = build.build_installer(bundle, tmp_path / "out")
    assert setup.name == f"jukestudio-{build.project_version()}-setup.exe"
    assert setup.read_bytes()[:2] == b"MZ"
    assert (bundle / "LICENSES.txt").is_file(), "the bundle ships the combined licenses"


# ---- The bundle itself (slow) ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(1800)  # a PyInstaller build takes minutes, more than the suite's per-test limit
@pytest.mark.skipif(os.environ.get("JUKESTUDIO_BUILD_BUNDLE") != "1", reason="set JUKESTUDIO_BUILD_BUNDLE=1 (minutes)")
def test_pyinstaller_bundle_starts(tmp_path: Path) -> None:
    pytest.importorskip("PyInstaller", reason="pip install '.[packaging]'")
    dist = tmp_path / "dist"
    # Reuse PyInstaller's cache under build/ (gitignored): a rebuild then takes about half the time.
    result = subprocess.run(
        [sys.executable, str(PACKAGING / "build.py"), "--dist", str(dist)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    bundle = dist / "jukestudio"
    suffix = ".exe" if sys.platform == "win32" else ""
    cli = bundle / f"jukestudio-cli{suffix}"
    assert (bundle / f"jukestudio{suffix}").is_file() and (bundle / "LICENSES.txt").is_file()

    version = subprocess.run([str(cli), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"jukestudio {build.project_version()}"

    check = subprocess.run([str(cli), "--bundle-selfcheck"], capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr

    # Test tools are kept out of the programs' module archives (torch's own package data may hold
    # folders called "tests"; our tests/ and the test tools must not appear as modules).
    from PyInstaller.archive.readers import pkg_archive_contents

    for program, script, other in (("jukestudio", "gui_main", "cli_main"), ("jukestudio-cli", "cli_main", "gui_main")):
        modules = set(pkg_archive_contents(str(bundle / f"{program}{suffix}")))
        assert script in modules and other not in modules, "each program runs only its own launcher"
        assert "jukestudio.resources" in modules and "jukestudio.cli.main" in modules
        leaked = {m for m in modules if m.split(".")[0] in ("tests", "pytest", "_pytest", "hypothesis", "transformers")}
        assert leaked == set()
    assert not [p for p in bundle.rglob("*") if p.name.endswith((".safetensors", ".pth", ".ckpt"))]
    assert (bundle / "_internal" / "jukestudio" / "resources" / "vocab" / "LICENSE").is_file()
