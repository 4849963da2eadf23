#!/usr/bin/env bash
# Remove what install.sh put on this machine, and nothing else.
#
#   ~/.local/opt/troupe/uninstall.sh       (install.sh copies it there)
#   PREFIX=/some/dir ./uninstall.sh        (when installed with that PREFIX)
#
# Reads the app folder's install-manifest.txt: removes the files and the launcher
# link it lists, the folders install.sh created once they are empty, then the app
# folder. Your data (projects, history, settings, models) is kept: this script
# says where it is and how to delete it too.
set -euo pipefail

PREFIX="${PREFIX:-$HOME/.local}"
APP_DIR="$PREFIX/opt/troupe"
MANIFEST="$APP_DIR/install-manifest.txt"

data_dir() {
    if [[ -n "${TROUPE_HOME:-}" ]]; then
        echo "$TROUPE_HOME"
    else
        echo "${XDG_DATA_HOME:-$HOME/.local/share}/Troupe"
    fi
}

if [[ ! -f "$MANIFEST" ]]; then
    echo "Troupe is not installed in $PREFIX (no $MANIFEST); nothing removed."
    exit 0
fi

# Files and the launcher link first; a link is removed only while it still points
# into the app folder (the person may have replaced it with their own).
while IFS=' ' read -r kind path; do
    case "$kind" in
        file) rm -f "$path" ;;
        link)
            if [[ -L "$path" && "$(readlink "$path")" == "$APP_DIR"/* ]]; then
                rm -f "$path"
            fi
            ;;
    esac
done <"$MANIFEST"

DIRS="$(grep '^dir ' "$MANIFEST" | cut -c5- | sort -r || true)"
rm -rf "$APP_DIR"
# Folders install.sh created, deepest first, only if nothing else lives there now.
if [[ -n "$DIRS" ]]; then
    while IFS= read -r dir; do
        rmdir "$dir" 2>/dev/null || true
    done <<<"$DIRS"
fi

ICONS="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor"
if [[ -f "$ICONS/icon-theme.cache" ]] && command -v gtk-update-icon-cache >/dev/null; then
    gtk-update-icon-cache --quiet --force "$ICONS" || true
fi

echo "Troupe is uninstalled from $PREFIX."
DATA="$(data_dir)"
if [[ -d "$DATA" ]]; then
    echo "Your data is still in $DATA (history, settings, models)."
    echo "To delete it too: rm -rf \"$DATA\""
    echo "Keys you saved stay in your system keychain (service 'troupe'): remove them there."
fi
