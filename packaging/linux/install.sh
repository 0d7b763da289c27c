#!/usr/bin/env sh
# Install (or remove) a jukestudio Linux bundle for one user, no root needed:
#   ./install.sh              copy this folder to $PREFIX/lib/jukestudio, link the programs into
#                             $PREFIX/bin, add the menu entry and icon
#   ./install.sh --uninstall  remove exactly those again
# PREFIX defaults to ~/.local. packaging/build.py copies this script, jukestudio.desktop and
# jukestudio.svg into the bundle folder (dist/jukestudio/), which is where it runs from.
# Your projects (~/Documents/jukestudio) and model store (~/.local/share/jukestudio) are never touched.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-"$HOME/.local"}
app="$prefix/lib/jukestudio"
desktop="$prefix/share/applications/jukestudio.desktop"
icon="$prefix/share/icons/hicolor/scalable/apps/jukestudio.svg"

remove() {
    rm -f "$prefix/bin/jukestudio" "$prefix/bin/jukestudio-cli" "$desktop" "$icon"
    # The program folder holds only the bundle: it is ours to remove whole.
    if [ -x "$app/jukestudio-cli" ]; then rm -rf "$app"; fi
}

case "${1:-}" in
    --uninstall)
        remove
        command -v update-desktop-database >/dev/null && update-desktop-database -q "$(dirname "$desktop")" || true
        echo "removed jukestudio from $prefix (your projects and models are kept)"
        exit 0 ;;
    "") ;;
    *) echo "usage: $0 [--uninstall]" >&2; exit 2 ;;
esac

if [ ! -x "$here/jukestudio-cli" ]; then
    echo "$0: run me from the jukestudio bundle folder (no jukestudio-cli beside me)" >&2
    exit 1
fi
if [ "$here" = "$app" ]; then
    echo "$0: already installed here; run the install.sh of a new bundle to update" >&2
    exit 1
fi
remove
mkdir -p "$prefix/lib" "$prefix/bin" "$(dirname "$desktop")" "$(dirname "$icon")"
cp -a "$here" "$app"
ln -s "$app/jukestudio" "$prefix/bin/jukestudio"
ln -s "$app/jukestudio-cli" "$prefix/bin/jukestudio-cli"
# Exec with the full path, so the menu entry works even where $PREFIX/bin is not on PATH.
sed "s|^Exec=jukestudio|Exec=$app/jukestudio|" "$here/jukestudio.desktop" >"$desktop"
cp "$here/jukestudio.svg" "$icon"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$(dirname "$desktop")" || true
echo "installed jukestudio in $app; run it from the menu or as $prefix/bin/jukestudio"
