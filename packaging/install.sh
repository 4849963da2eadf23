#!/usr/bin/env bash
# Install Troupe for the current user (no root): run it from the unpacked tar.gz.
#
#   ./install.sh                 installs into ~/.local
#   PREFIX=/some/dir ./install.sh
#
# Puts the app in $PREFIX/opt/troupe, a `troupe` link in $PREFIX/bin, the desktop
# entry in <share>/applications and the icons in <share>/icons/hicolor, where
# <share> is $PREFIX/share (default: $XDG_DATA_HOME, else ~/.local/share).
# Running it again upgrades: the app folder is replaced as a whole. Your projects,
# settings and models are never touched: they live in Troupe's data folder
# ($TROUPE_HOME, else ~/.local/share/Troupe), not in the app folder.
# Everything placed outside the app folder is listed in its install-manifest.txt,
# which uninstall.sh reads to remove exactly that.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUNDLE="$HERE/troupe"
if [[ -n "${PREFIX:-}" ]]; then
    SHARE="$PREFIX/share"
else
    PREFIX="$HOME/.local"
    SHARE="${XDG_DATA_HOME:-$HOME/.local/share}"
fi
APP_DIR="$PREFIX/opt/troupe"
BIN_DIR="$PREFIX/bin"
MANIFEST_NAME="install-manifest.txt"
RESOURCES="$BUNDLE/_internal/resources"

die() { echo "install.sh: $*" >&2; exit 1; }

[[ -x "$BUNDLE/troupe" ]] || die "no Troupe bundle next to this script (expected $BUNDLE/troupe)"
[[ -f "$RESOURCES/troupe.desktop" ]] || die "the bundle has no desktop entry ($RESOURCES/troupe.desktop)"
if [[ -e "$APP_DIR" && ! -f "$APP_DIR/$MANIFEST_NAME" ]]; then
    die "$APP_DIR exists but was not installed by this script; move it away first"
fi

# The manifest of the install being replaced: its "dir" lines name folders an
# earlier install created, which uninstall may remove once they are empty.
OLD_DIRS=""
if [[ -f "$APP_DIR/$MANIFEST_NAME" ]]; then
    OLD_DIRS="$(grep '^dir ' "$APP_DIR/$MANIFEST_NAME" || true)"
fi
NEW_MANIFEST="$(mktemp)"
trap 'rm -f "$NEW_MANIFEST"' EXIT

record() { echo "$1 $2" >>"$NEW_MANIFEST"; }

# Create a folder (and its missing parents), recording the ones this install made.
make_dir() {
    local dir="$1" missing=()
    while [[ ! -d "$dir" ]]; do
        missing=("$dir" "${missing[@]}")
        dir="$(dirname "$dir")"
    done
    for dir in "${missing[@]}"; do
        mkdir "$dir"
        record dir "$dir"
    done
}

# 1. The app folder: copied beside the old one, then swapped in, so an upgrade
#    that fails half way leaves the previous version working.
make_dir "$PREFIX/opt"
STAGING="$APP_DIR.new.$$"
rm -rf "$STAGING"
cp -a "$BUNDLE" "$STAGING"
cp "$HERE/uninstall.sh" "$STAGING/uninstall.sh"
chmod +x "$STAGING/uninstall.sh"
if [[ -e "$APP_DIR" ]]; then
    mv "$APP_DIR" "$APP_DIR.old.$$"
fi
mv "$STAGING" "$APP_DIR"
rm -rf "$APP_DIR.old.$$"

# 2. The launcher on PATH.
make_dir "$BIN_DIR"
ln -sfn "$APP_DIR/troupe" "$BIN_DIR/troupe"
record link "$BIN_DIR/troupe"

# 3. The desktop entry, pointing at the installed executable (a desktop session's
#    PATH often lacks ~/.local/bin).
make_dir "$SHARE/applications"
DESKTOP="$SHARE/applications/troupe.desktop"
sed_escape() { printf '%s' "$1" | sed -e 's/[&|\\]/\\&/g'; }
EXE="$(sed_escape "$APP_DIR/troupe")"
sed -e "s|^Exec=.*|Exec=\"$EXE\"|" -e "s|^TryExec=.*|TryExec=$EXE|" \
    "$RESOURCES/troupe.desktop" >"$DESKTOP"
record file "$DESKTOP"

# 4. The icons, in every size the bundle has, plus the SVG.
ICONS="$SHARE/icons/hicolor"
for png in "$RESOURCES"/icons/hicolor/*/apps/troupe.png; do
    size="$(basename "$(dirname "$(dirname "$png")")")"
    make_dir "$ICONS/$size/apps"
    cp "$png" "$ICONS/$size/apps/troupe.png"
    record file "$ICONS/$size/apps/troupe.png"
done
make_dir "$ICONS/scalable/apps"
cp "$RESOURCES/icons/troupe.svg" "$ICONS/scalable/apps/troupe.svg"
record file "$ICONS/scalable/apps/troupe.svg"

# 5. Caches: refreshed only where the desktop already keeps one. Creating a
#    user-level icon cache would hide icons that other apps install later.
if [[ -f "$ICONS/icon-theme.cache" ]] && command -v gtk-update-icon-cache >/dev/null; then
    gtk-update-icon-cache --quiet --force "$ICONS" || true
else
    touch "$ICONS"  # a newer folder makes icon theme readers look again
fi
if [[ -f "$SHARE/applications/mimeinfo.cache" ]] && command -v update-desktop-database >/dev/null; then
    update-desktop-database --quiet "$SHARE/applications" || true
fi

# The manifest: this install's entries, and folders created by earlier ones.
if [[ -n "$OLD_DIRS" ]]; then
    echo "$OLD_DIRS" >>"$NEW_MANIFEST"
fi
sort -u "$NEW_MANIFEST" >"$APP_DIR/$MANIFEST_NAME"

echo "Troupe is installed in $APP_DIR"
echo "Start it from your applications menu, or run: $BIN_DIR/troupe"
case ":$PATH:" in
    *":$BIN_DIR:"*) ;;
    *) echo "($BIN_DIR is not on your PATH: add it to run 'troupe' by name)" ;;
esac
echo "To uninstall: $APP_DIR/uninstall.sh"
