"""wsgi.input: a file-like reader over a pull function that yields pieces."""

from __future__ import annotations

import io

import pytest

from glade.wsgi.input import BadRequestBody, ClientDisconnected, InputStream

BODY = b"first line\nsecond\n\nfourth is longer than the others\nno newline at the end"

# The same body cut into pieces in different ways, as reads from a socket would.
SPLITS = {
    "one-piece": [BODY],
    "bytes": [BODY[i : i + 1] for i in range(len(BODY))],
    "threes": [BODY[i : i + 3] for i in range(0, len(BODY), 3)],
    "uneven": [BODY[:4], BODY[4:30], BODY[30:31], BODY[31:70], BODY[70:]],
    "at-newlines": [line for line in io.BytesIO(BODY)],
}


class Puller:
    """A pull function over pieces; records calls, and b"" once they run out."""

    def __init__(self, pieces) -> None:
        self.pieces = list(pieces)
        self.calls = 0
        self.after_end = 0

    def __call__(self) -> bytes:
        self.calls += 1
        if self.pieces:
            return self.pieces.pop(0)
        self.after_end += 1
        return b""


@pytest.fixture(params=SPLITS.values(), ids=SPLITS.keys())
def stream(request) -> InputStream:
    return InputStream(Puller(request.param))


def reference() -> io.BytesIO:
    return io.BytesIO(BODY)


# -- read ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [-1, None, -5])
def test_read_all(stream, size):
    assert stream.read(size) == BODY
    assert stream.read(size) == b""
    assert stream.finished


def test_read_without_argument_reads_all(stream):
    assert stream.read() == BODY


@pytest.mark.parametrize("size", [1, 2, 3, 7, 10, 64, len(BODY) - 1, len(BODY), 10_000])
def test_read_n_returns_n_bytes_until_the_end(stream, size):
    """A short read would truncate `read(int(environ["CONTENT_LENGTH"]))`."""
    expected = reference()
    while True:
        data = stream.read(size)
        assert data == expected.read(size)
        if not data:
            break
    assert stream.finished


def test_read_whole_content_length_in_one_call(stream):
    assert stream.read(len(BODY)) == BODY


def test_read_zero_reads_nothing_and_does_not_pull():
    pull = Puller([b"abc"])
    stream = InputStream(pull)
    assert stream.read(0) == b""
    assert pull.calls == 0
    assert stream.read(3) == b"abc"


def test_read_past_the_end_returns_empty_and_stops_pulling():
    pull = Puller([b"abc"])
    stream = InputStream(pull)
    assert stream.read(10) == b"abc"
    for _ in range(3):
        assert stream.read(10) == b""
        assert stream.read() == b""
        assert stream.readline() == b""
    assert pull.after_end == 1


def test_read_mixed_sizes_then_rest(stream):
    expected = reference()
    for size in (5, 1, 0, 12, 3):
        assert stream.read(size) == expected.read(size)
    assert stream.readline() == expected.readline()
    assert stream.read() == expected.read()


def test_read_hands_over_a_whole_piece_without_copying():
    piece = b"x" * 1000
    stream = InputStream(Puller([piece]))
    assert stream.read(1000) is piece


# -- readline -------------------------------------------------------------------------


def test_readline(stream):
    expected = reference()
    while True:
        line = stream.readline()
        assert line == expected.readline()
        if not line:
            break


@pytest.mark.parametrize("size", [0, 1, 3, 10, 11, 40, 1000])
def test_readline_with_limit(stream, size):
    expected = reference()
    for _ in range(200):
        line = stream.readline(size)
        assert line == expected.readline(size)
        if size == 0:
            assert line == b""
            break
        if not line:
            break
    else:
        pytest.fail("readline never reached the end")


@pytest.mark.parametrize("size", [None, -1])
def test_readline_without_limit(stream, size):
    assert stream.readline(size) == b"first line\n"


def test_readline_then_read_continue_where_the_other_stopped(stream):
    expected = reference()
    assert stream.readline(4) == expected.readline(4)
    assert stream.read(9) == expected.read(9)
    assert stream.readline() == expected.readline()
    assert stream.read(2) == expected.read(2)
    assert stream.readlines() == expected.readlines()


def test_long_line_over_many_pieces():
    pieces = [b"a" * 100] * 500 + [b"\nrest"]
    stream = InputStream(Puller(pieces))
    assert stream.readline() == b"a" * 50_000 + b"\n"
    assert stream.readline() == b"rest"


# -- readlines and iteration ------------------------------------------------------------


def test_readlines(stream):
    assert stream.readlines() == reference().readlines()
    assert stream.readlines() == []


@pytest.mark.parametrize("hint", [None, -1, 0])
def test_readlines_without_hint_reads_all(stream, hint):
    assert stream.readlines(hint) == reference().readlines()


@pytest.mark.parametrize("hint", [1, 11, 12, 20, 1000])
def test_readlines_stops_once_hint_bytes_are_read(stream, hint):
    lines = stream.readlines(hint)
    assert lines == reference().readlines(hint)
    assert b"".join(lines) + stream.read() == BODY


def test_iteration_yields_lines(stream):
    assert list(stream) == reference().readlines()
    assert list(stream) == []


def test_iter_returns_the_stream_itself(stream):
    assert iter(stream) is stream


# -- finished and drain -----------------------------------------------------------------


def test_finished_only_after_the_last_byte_is_read():
    stream = InputStream(Puller([b"ab", b"cd"]))
    assert not stream.finished
    assert stream.read(4) == b"abcd"
    assert not stream.finished  # the end has not been seen yet
    assert stream.read(1) == b""
    assert stream.finished


def test_empty_body():
    stream = InputStream(bytes)
    assert not stream.finished
    assert stream.read() == b""
    assert stream.finished
    assert stream.readline() == b""
    assert list(stream) == []


def test_drain_within_the_limit_reads_to_the_end():
    pull = Puller([b"a" * 10, b"b" * 10])
    stream = InputStream(pull)
    assert stream.read(3) == b"aaa"
    assert stream.drain(20)
    assert stream.finished
    assert pull.pieces == []


def test_drain_of_exactly_the_limit_is_within_it():
    assert InputStream(Puller([b"a" * 10, b"b" * 10])).drain(20)


def test_drain_over_the_limit_gives_up():
    pull = Puller([b"a" * 10, b"b" * 10, b"c" * 10])
    stream = InputStream(pull)
    assert not stream.drain(15)
    assert not stream.finished
    assert pull.pieces == [b"c" * 10]  # it stopped pulling once over


def test_drain_does_not_count_bytes_already_buffered():
    stream = InputStream(Puller([b"a" * 100, b"b" * 5]))
    assert stream.read(1) == b"a"
    assert stream.drain(5)
    assert stream.finished


def test_drain_after_the_end_is_true():
    stream = InputStream(Puller([b"abc"]))
    stream.read()
    assert stream.drain(0)


def test_drain_zero_limit_with_more_to_come_is_false():
    assert not InputStream(Puller([b"x"])).drain(0)


# -- errors from the pull function ----------------------------------------------------


@pytest.mark.parametrize(
    "error", [ClientDisconnected("gone"), BadRequestBody(413, "request body too large")]
)
def test_errors_from_pull_reach_the_app_as_oserror(error):
    def pull():
        raise error

    stream = InputStream(pull)
    with pytest.raises(OSError) as raised:
        stream.read()
    assert raised.value is error


def test_bad_request_body_carries_its_status():
    error = BadRequestBody(413, "request body too large")
    assert (error.status, error.reason) == (413, "request body too large")
    assert str(error) == "413 request body too large"


def test_data_read_before_an_error_is_kept():
    pieces = [b"abc"]

    def pull():
        if pieces:
            return pieces.pop()
        raise ClientDisconnected("gone")

    stream = InputStream(pull)
    assert stream.read(2) == b"ab"
    with pytest.raises(ClientDisconnected):
        stream.read(5)
