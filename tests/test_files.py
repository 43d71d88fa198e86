"""files.py, in process: private directories, atomic writes, the lock, the sweep.

The hardening tests check the same rules through the installed command under crashes
and concurrency; these pin each rule to one small case, so that a change that breaks
one fails here in a fraction of a second (and mutation testing can see it).
"""

import json
import os
import stat
import subprocess
import sys

import pytest

from docker_credential_truss import files
from docker_credential_truss.errors import StoreError


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def dead_pid() -> int:
    """The id of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- private_dir ---------------------------------------------------------------------------


def test_private_dir_creates_missing_parents_0700_whatever_the_umask(tmp_path):
    target = tmp_path / "a" / "b" / "c"
    old = os.umask(0)
    try:
        files.private_dir(str(target))
    finally:
        os.umask(old)
    assert [mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", target)] == [0o700] * 3


@pytest.mark.parametrize("loose", [0o755, 0o750, 0o705, 0o744, 0o711])
def test_private_dir_tightens_an_existing_readable_directory(tmp_path, loose):
    target = tmp_path / "d"
    target.mkdir()
    os.chmod(target, loose)
    files.private_dir(str(target))
    assert mode(target) == 0o700


def test_private_dir_leaves_a_private_directory_alone(tmp_path):
    target = tmp_path / "d"
    target.mkdir()
    os.chmod(target, 0o500)  # stricter than 0700: the user's choice, kept
    try:
        files.private_dir(str(target))
        assert mode(target) == 0o500
    finally:
        os.chmod(target, 0o700)


@pytest.mark.parametrize("loose", [0o770, 0o707, 0o777])
def test_private_dir_refuses_a_directory_others_can_write(tmp_path, loose):
    target = tmp_path / "d"
    target.mkdir()
    os.chmod(target, loose)
    with pytest.raises(StoreError, match="writable by other users; fix with: chmod go-w"):
        files.private_dir(str(target))
    assert mode(target) == loose  # refused, not repaired


def test_private_dir_refuses_a_file_in_the_way(tmp_path):
    target = tmp_path / "f"
    target.write_text("")
    with pytest.raises(StoreError, match="is not a directory"):
        files.private_dir(str(target))


def test_private_dir_reports_what_it_cannot_create(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(StoreError, match=r"cannot create directory .*: Not a directory"):
        files.private_dir(str(tmp_path / "f" / "d"))


def test_check_private_refuses_another_users_file(tmp_path, monkeypatch):
    path = tmp_path / "x"
    path.write_text("")
    st = os.stat(path)
    monkeypatch.setattr(os, "geteuid", lambda: st.st_uid + 1)
    with pytest.raises(StoreError, match="belongs to another user"):
        files.check_private(str(path), st)


# -- write_json / read_json ----------------------------------------------------------------


def test_write_json_is_0600_whatever_the_umask_and_leaves_no_temporary(tmp_path):
    path = str(tmp_path / "s.json")
    old = os.umask(0)
    try:
        files.write_json(path, {"a": 1})
    finally:
        os.umask(old)
    assert mode(path) == 0o600
    assert os.listdir(tmp_path) == ["s.json"]
    with open(path) as handle:
        assert json.load(handle) == {"a": 1}


def test_write_json_keeps_a_wider_mode_asked_for(tmp_path):
    path = str(tmp_path / "config.json")
    old = os.umask(0o077)
    try:
        files.write_json(path, {}, mode=0o644)
    finally:
        os.umask(old)
    assert mode(path) == 0o644


def test_write_json_failure_names_the_file_and_leaves_no_temporary(tmp_path):
    with pytest.raises(StoreError, match=r"cannot write .*s\.json: "):
        files.write_json(str(tmp_path / "missing" / "s.json"), {"a": 1})
    files.private_dir(str(tmp_path / "d"))
    os.mkdir(tmp_path / "d" / "s.json")  # a directory in the way: the rename fails
    with pytest.raises(StoreError):
        files.write_json(str(tmp_path / "d" / "s.json"), {"a": 1})
    assert os.listdir(tmp_path / "d") == ["s.json"]


def test_read_json_of_a_missing_file_is_none(tmp_path):
    assert files.read_json(str(tmp_path / "nothing.json")) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "is not valid JSON; move it aside"),
        (b"\xff\xfe", "is not valid JSON; move it aside"),
        (b"[" * 100000, "is not valid JSON; move it aside"),
        (b"[1, 2]", "does not hold a JSON object; move it aside"),
    ],
)
def test_read_json_refuses_what_is_not_an_object_without_quoting_it(tmp_path, raw, message):
    path = tmp_path / "s.json"
    path.write_bytes(raw)
    os.chmod(path, 0o600)
    with pytest.raises(StoreError, match=message) as caught:
        files.read_json(str(path))
    assert "not json" not in caught.value.message


def test_read_json_refuses_a_file_in_a_directory_others_can_write(tmp_path):
    directory = tmp_path / "d"
    directory.mkdir()
    (directory / "s.json").write_text("{}")
    os.chmod(directory / "s.json", 0o600)
    os.chmod(directory, 0o777)
    with pytest.raises(StoreError, match="writable by other users"):
        files.read_json(str(directory / "s.json"))
    assert files.read_json(str(directory / "s.json"), private=False) == {}


def test_read_json_reports_an_unreadable_path(tmp_path):
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(StoreError, match=r"cannot read .*dir\.json: is a directory"):
        files.read_json(str(tmp_path / "dir.json"))


def test_open_regular_refuses_a_fifo_without_blocking(tmp_path):
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        files.open_regular(fifo)


def test_update_json_changes_under_the_lock_and_keeps_the_rest(tmp_path):
    path = str(tmp_path / "store" / "s.json")
    files.update_json(path, lambda data: data.update(a=1))
    result = files.update_json(path, lambda data: data.update(b=2))
    assert result == {"a": 1, "b": 2}
    assert files.read_json(path) == {"a": 1, "b": 2}
    assert mode(os.path.dirname(path)) == 0o700


def test_update_json_never_overwrites_a_corrupt_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_bytes(b"{half")
    os.chmod(path, 0o600)
    with pytest.raises(StoreError):
        files.update_json(str(path), lambda data: data.update(a=1))
    assert path.read_bytes() == b"{half"


# -- the lock ------------------------------------------------------------------------------


def test_a_lock_held_elsewhere_times_out_with_a_store_error(tmp_path):
    path = str(tmp_path / "s.json")
    holder = files.FileLock(path)
    holder.acquire()
    try:
        waiter = files.FileLock(path, timeout=0.05)
        with pytest.raises(StoreError, match=r"timed out after 0s waiting for .*s\.json\.lock"):
            waiter.acquire()
        assert waiter._fd is None
    finally:
        holder.release()
    with files.FileLock(path, timeout=0.05) as lock:  # free again once released
        assert lock._fd is not None
    assert lock._fd is None
    assert mode(path + ".lock") == 0o600


def test_a_lock_that_cannot_be_opened_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="cannot open lock"):
        files.FileLock(str(tmp_path / "missing" / "s.json")).acquire()


# -- the sweep of dead writers' temporary files ------------------------------------------


def temporary(path, pid, suffix="0a1b2c3d"):
    name = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{pid}.{suffix}")
    with open(name, "w") as handle:
        handle.write("a copy of a secret")
    return os.path.basename(name)


def test_sweep_removes_every_temporary_copy_under_the_lock(tmp_path):
    path = str(tmp_path / "s.json")
    files.write_json(path, {})
    mine, dead = temporary(path, os.getpid()), temporary(path, dead_pid())
    other = temporary(str(tmp_path / "t.json"), dead_pid())
    files.sweep_temporaries(path)
    left = set(os.listdir(tmp_path))
    assert mine not in left and dead not in left
    assert {"s.json", other} <= left  # another file's temporaries are not this sweep's


def test_sweep_of_dead_writers_only_keeps_live_writers_files(tmp_path):
    path = str(tmp_path / "s.json")
    files.write_json(path, {})
    live, dead = temporary(path, os.getpid()), temporary(path, dead_pid())
    foreign = temporary(path, "x1", "y")  # not named by a writer of ours: left alone
    files.sweep_temporaries(path, dead_writers_only=True)
    left = set(os.listdir(tmp_path))
    assert dead not in left
    assert {live, foreign} <= left


def test_writer_alive(monkeypatch):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert files._writer_alive(f"{child.pid}.ab12")
        with pytest.raises(subprocess.TimeoutExpired):  # asked, not signalled
            child.wait(timeout=0.3)
    finally:
        child.kill()
        child.wait()
    dead = dead_pid()
    assert not files._writer_alive(f"{dead}.ab12")
    assert not files._writer_alive(f"{dead}.ab.12")  # the pid is what comes before the first dot
    assert files._writer_alive("notapid.ab12")

    def denied(pid, signal):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "kill", denied)  # another user's live process
    assert files._writer_alive("1.ab12")


def test_sweep_of_a_missing_directory_is_quiet(tmp_path):
    files.sweep_temporaries(str(tmp_path / "missing" / "s.json"))


def test_update_json_of_a_shared_file_keeps_its_mode_and_reads_it_as_shared(tmp_path):
    """docker's config.json is 0644, in a directory others may write: no private checks."""
    directory = tmp_path / "docker"
    directory.mkdir()
    os.chmod(directory, 0o700)
    path = directory / "config.json"
    path.write_text('{"auths": {}}')
    os.chmod(path, 0o664)  # group-writable: refused as a private file, fine as this one
    result = files.update_json(str(path), lambda data: data.update(credHelpers={}), mode=0o644)
    assert result == {"auths": {}, "credHelpers": {}}
    assert mode(path) == 0o644


def test_read_json_names_the_insecure_file_or_directory(tmp_path):
    directory = tmp_path / "d"
    directory.mkdir()
    path = directory / "s.json"
    path.write_text("{}")
    os.chmod(path, 0o622)
    with pytest.raises(StoreError) as caught:
        files.read_json(str(path))
    assert caught.value.message.startswith(f"{path} is writable by other users")
    os.chmod(path, 0o600)
    os.chmod(directory, 0o770)
    with pytest.raises(StoreError) as caught:
        files.read_json(str(path))
    assert caught.value.message.startswith(f"{directory} is writable by other users")


def test_read_json_of_a_bare_file_name_checks_the_current_directory(tmp_path, monkeypatch):
    os.chmod(tmp_path, 0o700)
    (tmp_path / "s.json").write_text('{"a": 1}')
    os.chmod(tmp_path / "s.json", 0o600)
    monkeypatch.chdir(tmp_path)
    assert files.read_json("s.json") == {"a": 1}


def test_open_regular_errors_carry_errno_and_file_name(tmp_path):
    import errno

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    for name, number in (("fifo", errno.EINVAL), ("dir", errno.EISDIR)):
        with pytest.raises(OSError) as caught:
            files.open_regular(str(tmp_path / name))
        assert (caught.value.errno, caught.value.filename) == (number, str(tmp_path / name))


def test_private_dir_refusal_names_the_directory_exactly(tmp_path):
    target = tmp_path / "d"
    target.mkdir()
    os.chmod(target, 0o777)
    with pytest.raises(StoreError) as caught:
        files.private_dir(str(target))
    assert caught.value.message == (
        f"{target} is writable by other users; fix with: chmod go-w {target}"
    )


def test_written_json_is_compact(tmp_path):
    path = tmp_path / "s.json"
    files.write_json(str(path), {"a": {"b": 1}})
    assert path.read_text() == '{"a":{"b":1}}\n'


def test_bare_file_names_work_in_the_current_directory(tmp_path, monkeypatch):
    os.chmod(tmp_path, 0o700)
    monkeypatch.chdir(tmp_path)
    files.private_dir("sub")
    files.write_json("s.json", {"a": 1})
    stale = temporary("s.json", dead_pid())
    files.sweep_temporaries("s.json")
    assert sorted(os.listdir(".")) == ["s.json", "sub"] and stale not in os.listdir(".")


def test_the_temporary_copy_is_written_beside_the_file(tmp_path, monkeypatch):
    """A rename is atomic only within one file system: the temporary file must be in the
    target's own directory, not the current one."""
    renamed = []
    real_replace = os.replace

    def replace(src, dst):
        renamed.append((os.path.dirname(src), os.path.dirname(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    files.write_json(str(tmp_path / "d" / "s.json"), {})
    assert renamed == [(str(tmp_path / "d"), str(tmp_path / "d"))]


# -- read_text, reason, write_bytes -----------------------------------------------------------


@pytest.fixture
def c_locale():
    """The process's text encoding as a C locale makes it (ASCII), as in a bare container."""
    import locale

    saved = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    yield
    locale.setlocale(locale.LC_CTYPE, saved)


def test_text_is_read_as_utf8_whatever_the_locale(tmp_path, c_locale):
    path = tmp_path / "config.yaml"
    path.write_bytes("name: caf\u00e9\r\nnext: \u00fc\n".encode())
    assert files.read_text(str(path)) == "name: caf\u00e9\nnext: \u00fc\n"


def test_text_that_is_not_utf8_is_an_oserror_naming_the_file(tmp_path):
    import errno

    path = tmp_path / "config.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(OSError) as caught:
        files.read_text(str(path))
    assert (caught.value.errno, caught.value.filename) == (errno.EILSEQ, str(path))
    assert files.reason(caught.value) == "not UTF-8 text"


def test_the_reason_is_the_systems_words_else_the_kind_of_error():
    assert files.reason(PermissionError(13, "Permission denied", "/x")) == "Permission denied"
    assert files.reason(FileNotFoundError()) == "FileNotFoundError"
    assert files.reason(OSError("no words")) == "OSError"


def test_write_bytes_makes_a_0600_file_by_default_whatever_the_umask(tmp_path):
    path = tmp_path / "config.json"
    old = os.umask(0)
    try:
        files.write_bytes(str(path), b"{}\n")
    finally:
        os.umask(old)
    assert mode(path) == 0o600 and path.read_bytes() == b"{}\n"
