#!/usr/bin/env bash
# Pack a built bundle with its install scripts: make_tarball.sh DIST VERSION
#   DIST/troupe/ (from PyInstaller) -> DIST/troupe-VERSION-linux-<arch>.tar.gz
# holding troupe-VERSION-linux-<arch>/{troupe/, install.sh, uninstall.sh, README.txt}.
set -euo pipefail

DIST="$1"
VERSION="$2"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NAME="troupe-$VERSION-linux-$(uname -m)"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT

[[ -x "$DIST/troupe/troupe" ]] || { echo "make_tarball.sh: no bundle in $DIST/troupe" >&2; exit 1; }
mkdir "$STAGE/$NAME"
# hard links, not copies: the bundle is ~650 MB and only read from here
cp -al "$DIST/troupe" "$STAGE/$NAME/troupe" 2>/dev/null || cp -a "$DIST/troupe" "$STAGE/$NAME/troupe"
install -m 755 "$HERE/install.sh" "$HERE/uninstall.sh" "$STAGE/$NAME/"
install -m 644 "$HERE/README.txt" "$STAGE/$NAME/"
# gzip -1: a quarter of the default level's time; the model chunks do not compress anyway
tar -C "$STAGE" -cf - "$NAME" | gzip -1 >"$DIST/$NAME.tar.gz.part"
mv "$DIST/$NAME.tar.gz.part" "$DIST/$NAME.tar.gz"
echo "$DIST/$NAME.tar.gz"
