"""The batch's output file written around the page cache (engine.directfile): the same bytes,
whatever the writes' sizes, and the ordinary way where O_DIRECT is not to be had."""
import errno
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import directfile
from engine.directfile import ALIGN, DirectFile, open_text

BUFFER = 2 * ALIGN  # small, so a few writes fill it and write it out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=3 * BUFFER + 5), max_size=12))
def test_the_file_holds_every_byte_written_in_order(tmp_path_factory, pieces):
    path = tmp_path_factory.mktemp("direct") / "out.csv"
    stream = DirectFile(path, buffer_bytes=BUFFER)
    for piece in pieces:
        assert stream.write(piece) == len(piece)
    stream.close()
    assert path.read_bytes() == b"".join(pieces)


def test_writes_directly_where_the_file_system_allows_and_truncates_an_old_file(tmp_path):
    path = tmp_path / "out.csv"
    path.write_bytes(b"x" * (5 * ALIGN))  # an older, longer file
    stream = DirectFile(path, buffer_bytes=BUFFER)
    direct = stream.direct
    stream.write(b"a" * (BUFFER + 10))
    assert stream.direct == direct  # the buffer's aligned write was taken as it was
    stream.close()
    assert path.read_bytes() == b"a" * (BUFFER + 10)


def test_a_file_system_without_o_direct_gets_an_ordinary_file(tmp_path, monkeypatch):
    if not hasattr(os, "O_DIRECT"):
        pytest.skip("no O_DIRECT on this system")
    real_open = os.open

    def no_direct(path, flags, mode=0o777):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode)

    monkeypatch.setattr(directfile.os, "open", no_direct)
    stream = DirectFile(tmp_path / "out.csv", buffer_bytes=BUFFER)
    assert not stream.direct
    stream.write(b"b" * (BUFFER * 2 + 3))
    stream.close()
    assert (tmp_path / "out.csv").read_bytes() == b"b" * (BUFFER * 2 + 3)


def test_a_refused_direct_write_is_written_the_ordinary_way(tmp_path, monkeypatch):
    if not hasattr(os, "O_DIRECT"):
        pytest.skip("no O_DIRECT on this system")
    real_write = os.write
    refused = []

    def refuse_direct(fd, data):
        import fcntl

        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            refused.append(len(data))
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    stream = DirectFile(tmp_path / "out.csv", buffer_bytes=BUFFER)
    if not stream.direct:
        pytest.skip("the test directory's file system has no O_DIRECT")
    monkeypatch.setattr(directfile.os, "write", refuse_direct)
    stream.write(b"c" * (BUFFER + 7))
    stream.close()
    assert (tmp_path / "out.csv").read_bytes() == b"c" * (BUFFER + 7)
    assert not stream.direct and refused == [BUFFER]


def full(fd, data):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_other_write_errors_are_raised_and_a_failed_buffer_is_not_written_again(tmp_path, monkeypatch):
    stream = DirectFile(tmp_path / "out.csv", buffer_bytes=BUFFER)
    monkeypatch.setattr(directfile.os, "write", full)
    with pytest.raises(OSError) as raised:
        stream.write(b"d" * BUFFER)
    assert raised.value.errno == errno.ENOSPC
    monkeypatch.undo()
    stream.close()
    assert (tmp_path / "out.csv").read_bytes() == b""


def test_a_failed_last_write_is_the_error_raised_and_the_file_is_closed(tmp_path, monkeypatch):
    stream = DirectFile(tmp_path / "out.csv", buffer_bytes=BUFFER)
    stream.write(b"e" * (ALIGN + 3))
    descriptor = stream._fd
    monkeypatch.setattr(directfile.os, "write", full)
    with pytest.raises(OSError) as raised:
        stream.close()
    assert raised.value.errno == errno.ENOSPC  # not a BufferError from freeing the buffer
    assert stream.closed
    with pytest.raises(OSError) as closed:
        os.fstat(descriptor)
    assert closed.value.errno == errno.EBADF


def test_text_stream_for_the_csv_module_and_polars(tmp_path):
    import csv

    import polars as pl

    path = tmp_path / "out.csv"
    stream = open_text(path, "utf-8-sig")
    csv.writer(stream).writerow(["姓名", "a,b"])
    stream.flush()
    pl.DataFrame({"x": ["一", "二"], "y": [1, 2]}).write_csv(stream.buffer, include_header=False)
    stream.close()
    assert path.read_bytes() == "\ufeff姓名,\"a,b\"\r\n一,1\n二,2\n".encode()


def test_a_path_that_cannot_be_opened_raises_its_own_error(tmp_path):
    with pytest.raises(OSError) as raised:
        DirectFile(tmp_path / "missing" / "out.csv")
    assert raised.value.errno == errno.ENOENT
