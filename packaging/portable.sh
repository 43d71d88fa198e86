#!/usr/bin/env bash
# The portable Linux build: the same one-folder PyInstaller bundle, made inside a Debian
# bullseye root with a CPython built there, so that no file in it needs a glibc newer than
# PORTABLE_GLIBC (packaging/glibc_needs.py): Amazon Linux 2, RHEL 8, Ubuntu 20.04,
# Debian 11 and everything newer. Run it as `./build --portable` (as root: it uses
# debootstrap, chroot and a private mount namespace).
#
# Why this way (measured on the 2-core CI machine; docs/development.md, Binary, has the figures):
# - Debian's archive is what CI can reach, and bullseye (glibc 2.31) is the oldest
#   release it still serves. A program needs only the versions of the glibc functions it
#   links, not the glibc it was built on: built there, CPython asks for 2.26-2.30 in ten
#   places, each avoidable. sem_clockwait (2.30), copy_file_range and memfd_create
#   (2.27), preadv2 and pwritev2 (2.26) are optional to CPython: configure is told they
#   are absent, as on an older glibc, and only os.copy_file_range, os.memfd_create and
#   os.preadv2/pwritev2's flags go: the helper uses none, and the one library that asks
#   (google-auth, for mTLS client certificates, unused here) has a fallback without it.
#   exp, exp2, log, log2, pow (2.29)
#   and fcntl64 (2.28) are bound to their older versions of the same function
#   (packaging/portable-glibc.h says why that is the same code).
# - That leaves bullseye's OpenSSL: libcrypto.so.1.1 needs GLIBC_2.25 (for getentropy),
#   so the bundle needs glibc 2.25, below Amazon Linux 2 (2.26) and RHEL 8.
# - zig cc could target glibc 2.17, but then OpenSSL, libffi and zlib would have to be
#   built from source with it too: three more builds for a baseline that only CentOS 7
#   (end of life) would gain. Not done.
# - A CPython of our own, built with --enable-shared: PyInstaller needs libpython, and
#   bullseye has no Python 3.11. The source is Debian's (bookworm's python3.11, fetched
#   with apt-get source) with the upstream and security fixes Debian carries applied;
#   Debian's layout patches (multiarch, dist-packages, ...) are left out, a bundle has no
#   use for them. No profile-guided optimisation: it runs the CPython test suite mid-build.
# - Wheels are fetched on the host for the manylinux2014 platform (glibc 2.17) with pip
#   download and installed in the root with --no-index, so the root needs no route to
#   PyPI and no wheel brings in a newer glibc.
#
# Everything lives under $WORK (default build-out/portable): the root, the CPython
# source and build, the wheels. A step whose result is there is not redone, so a second
# run in the same checkout only repeats the PyInstaller step; CI starts from nothing.
#
# Output: dist/portable/docker-credential-truss/ (the bundle) and a wrapper
# $WORK/in-root/docker-credential-truss that runs that bundle inside the bullseye root,
# for the tests (tests/run). ./build makes the release archive from the bundle.
set -euo pipefail
cd "$(dirname "$0")/.."

target=$(python3 packaging/glibc_needs.py --target)
work=${WORK:-build-out/portable}
mkdir -p "$work"
work=$(cd "$work" && pwd)
root="$work/bullseye"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
python_version=3.11
name=docker-credential-truss
started=$SECONDS

step() { echo "portable: $* ($((SECONDS - started)) s)"; }

if [[ $(id -u) != 0 ]]; then
  echo "portable: needs root (debootstrap, chroot, mount namespaces)" >&2
  exit 1
fi
for tool in debootstrap unshare chroot apt-get; do
  command -v "$tool" > /dev/null || { echo "portable: $tool is missing (apt-get install debootstrap)" >&2; exit 1; }
done

# Run a command inside the root, with /proc and /dev from the host, in a private mount
# namespace, so nothing stays mounted when it ends (even if it fails).
in_root() {
  unshare --mount --propagation private -- bash -c '
    set -e
    root=$1; shift
    mount --rbind /proc "$root/proc"
    mount --rbind /dev "$root/dev"
    exec chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 "$@"
  ' in_root "$root" "$@"
}

# 1. The bullseye root with a C toolchain and the headers of what CPython links.
if [[ ! -e "$root/.complete" ]]; then
  step "debootstrap bullseye into $root"
  rm -rf "$root"
  unshare --mount --propagation private -- debootstrap --variant=minbase \
    --include=gcc,make,libc6-dev,pkg-config,libssl-dev,libffi-dev,zlib1g-dev,libbz2-dev,liblzma-dev,uuid-dev,binutils \
    bullseye "$root" "$mirror" > "$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  touch "$root/.complete"
fi

# 2. CPython's source: bookworm's python3.11 source package, from Debian's archive.
src="$work/src"
if [[ ! -e "$src/.complete" ]]; then
  step "apt-get source python$python_version (bookworm)"
  rm -rf "$src"
  mkdir -p "$src/apt/lists/partial" "$src/apt/cache/archives/partial"
  echo "deb-src $mirror bookworm main" > "$src/apt/sources.list"
  apt=(-o "Dir::Etc::sourcelist=$src/apt/sources.list" -o Dir::Etc::sourceparts=-
    -o "Dir::State::lists=$src/apt/lists" -o "Dir::Cache=$src/apt/cache"
    -o APT::Sandbox::User=root)
  apt-get "${apt[@]}" -qq update
  (cd "$src" && apt-get "${apt[@]}" -qq source --download-only "python$python_version")
  touch "$src/.complete"
fi

# 3. Build and install CPython in the root (/opt/python), unless already there.
if [[ ! -e "$root/opt/python/.complete" ]]; then
  step "building CPython $python_version in the root"
  rm -rf "$root/usr/src/python" "$root/opt/python"
  mkdir -p "$root/usr/src/python"
  tar -xzf "$src"/python${python_version}_*.orig.tar.gz -C "$root/usr/src/python" --strip-components=1
  tar -xJf "$src"/python${python_version}_*.debian.tar.xz -C "$root/usr/src/python"
  # The fixes Debian applies after its own layout patches: upstream backports and CVEs.
  sed -n '/^shutdown-deadlock.diff$/,$p' "$root/usr/src/python/debian/patches/series" \
    > "$work/patches"
  [[ -s "$work/patches" ]] || { echo "portable: Debian's patch series changed shape" >&2; exit 1; }
  while read -r patch; do
    patch -d "$root/usr/src/python" -p1 -s --forward < "$root/usr/src/python/debian/patches/$patch"
  done < "$work/patches"
  # Debian's fix for CVE-2026-4224 makes pyexpat.c include an internal header, which
  # Debian's build allows by building the module into the interpreter; built as the
  # shared module it is here, it needs the define upstream's pyexpat.c has since 3.12.
  if grep -q pycore_ceval.h "$root/usr/src/python/Modules/pyexpat.c" \
    && ! grep -q Py_BUILD_CORE_MODULE "$root/usr/src/python/Modules/pyexpat.c"; then
    sed -i '1i #ifndef Py_BUILD_CORE_BUILTIN\n#  define Py_BUILD_CORE_MODULE 1\n#endif' \
      "$root/usr/src/python/Modules/pyexpat.c"
  fi
  cp packaging/portable-glibc.h "$root/usr/src/portable-glibc.h"
  in_root bash -c '
    set -e
    cd /usr/src/python
    ./configure --prefix=/opt/python --enable-shared --disable-test-modules \
      --with-ensurepip=install LDFLAGS=-Wl,-rpath,/opt/python/lib \
      CFLAGS="-include /usr/src/portable-glibc.h" \
      ac_cv_func_sem_clockwait=no ac_cv_func_copy_file_range=no ac_cv_func_memfd_create=no \
      ac_cv_func_preadv2=no ac_cv_func_pwritev2=no > /usr/src/configure.log
    make -j"$(nproc)" > /usr/src/make.log 2>&1 || { tail -40 /usr/src/make.log; exit 1; }
    make install > /usr/src/install.log 2>&1 || { tail -40 /usr/src/install.log; exit 1; }
    # The -g debug sections are a quarter of the download and nothing reads them.
    find /opt/python/lib -name "*.so*" -type f -exec strip --strip-debug {} +
    /opt/python/bin/python3 -c "import ssl, ctypes, zlib, bz2, lzma, hashlib, pyexpat, math; print(ssl.OPENSSL_VERSION)"
  '
  touch "$root/opt/python/.complete"
fi

# 4. The dependencies and PyInstaller as manylinux2014 wheels, fetched on the host.
step "wheels for manylinux2014 (pip download on the host)"
wheels="$root/opt/wheels"
rm -rf "$wheels"
mkdir -p "$wheels"
host_python=${PYTHON:-$([[ -x .venv/bin/python ]] && echo .venv/bin/python || echo python3)}
"$host_python" -m pip wheel -q --no-deps -w "$wheels" .
"$host_python" -m pip download -q -d "$wheels" --only-binary=:all: \
  --platform manylinux2014_x86_64 --python-version "$python_version" \
  --implementation cp --abi "cp${python_version/./}" --abi abi3 --abi none \
  "$wheels"/docker_credential_truss-*.whl "pyinstaller>=6.0"

# 5. The bundle, built in the root by the same spec ./build uses.
step "PyInstaller in the root"
rm -rf "$root/opt/venv" "$root/opt/src"
mkdir -p "$root/opt/src"
cp -a pyproject.toml docker_credential_truss packaging "$root/opt/src/"
in_root bash -c '
  set -e
  /opt/python/bin/python3 -m venv /opt/venv
  /opt/venv/bin/pip install -q --no-index --find-links /opt/wheels \
    docker-credential-truss pyinstaller
  cd /opt/src
  /opt/venv/bin/python -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath /opt/dist --workpath /opt/pyinstaller packaging/docker-credential-truss.spec
'
rm -rf dist/portable
mkdir -p dist/portable
cp -a "$root/opt/dist/$name" "dist/portable/$name"

# 6. The proof the name of the archive depends on, before anything is released.
step "glibc versions the bundle needs"
python3 packaging/glibc_needs.py "dist/portable/$name" --max "$target" | tail -1

# 7. A wrapper that runs this bundle inside the root, for the protocol tests there: the
# tests' files live under /tmp, which it shares with the root.
rm -rf "$root/opt/$name"
cp -a "dist/portable/$name" "$root/opt/$name"
mkdir -p "$work/in-root"
cat > "$work/in-root/$name" << EOF
#!/bin/sh
# Runs the portable bundle inside the Debian bullseye root made by packaging/portable.sh.
exec unshare --mount --propagation private -- sh -c 'mount --rbind /tmp "\$0/tmp" && mount --rbind /proc "\$0/proc" && mount --rbind /dev "\$0/dev" && exec chroot "\$0" /opt/$name/$name "\$@"' "$root" "\$@"
EOF
chmod +x "$work/in-root/$name"
step "done: dist/portable/$name"
