"""mbl_seg.data.remote (fetch), offline: a local HTTP server on 127.0.0.1 serves a file the test makes."""

import hashlib
import http.server
import threading

import numpy as np
import pytest

from mbl_seg.data.remote import REMOTE, Remote, fetch, list_remote

PAYLOAD = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Server:
    """Serves PAYLOAD at /volume.hdf, with range requests; can drop the first connection."""

    def __init__(self):
        self.requests, self.drop_after, self.ignore_range = [], None, False
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                start = 0
                ranged = self.headers.get("Range")
                server.requests.append(ranged)
                if ranged and not server.ignore_range:
                    start = int(ranged.split("=")[1].split("-")[0])
                    if start >= len(PAYLOAD):
                        self.send_response(416)
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
                else:
                    self.send_response(200)
                body = PAYLOAD[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.drop_after is not None:  # say the whole size, send part, hang up
                    self.wfile.write(body[:server.drop_after])
                    server.drop_after = None
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/volume.hdf"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def _remote(server, sha=SHA):
    return Remote("test/volume", server.url, sha, (8.0, 8.0, 8.0), "bytes", "this test", "none")


def test_a_download_is_checked_kept_and_not_repeated(server, tmp_path):
    path = fetch(_remote(server), directory=tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD and path.parent == tmp_path
    again = fetch(_remote(server), directory=tmp_path, progress=False)
    assert again == path and len(server.requests) == 1  # the cached file was checked, not fetched


def test_a_wrong_checksum_is_refused_and_nothing_is_kept(server, tmp_path):
    with pytest.raises(ValueError, match="does not have the SHA-256 listed"):
        fetch(_remote(server, sha="0" * 64), directory=tmp_path, progress=False)
    assert not [p for p in tmp_path.iterdir() if p.stat().st_size]  # no file of it stays


def test_an_interrupted_download_resumes_where_it_stopped(server, tmp_path):
    server.drop_after = 100_000
    with pytest.raises(ConnectionError, match="call fetch again to resume"):
        fetch(_remote(server), directory=tmp_path, progress=False)
    partial = tmp_path / "test_volume.hdf.part"
    kept = partial.stat().st_size
    assert 0 < kept <= 100_000  # what arrived, in whole chunks
    path = fetch(_remote(server), directory=tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert server.requests == [None, f"bytes={kept}-"]  # the rest only, not the whole again
    assert not partial.exists()


def test_unknown_names_and_bad_checksums_are_explained():
    with pytest.raises(ValueError, match="fetch knows .*cremi/A"):
        fetch("cremi/D")
    with pytest.raises(ValueError, match="64 hex digits"):
        fetch(Remote("x", "http://127.0.0.1/x", "abc", (1.0,) * 3, "", "", ""))


def test_the_listed_volumes_say_where_they_come_from_and_on_which_terms():
    assert list_remote() == ["cremi/A", "cremi/B", "cremi/C"]
    for remote in REMOTE.values():
        assert remote.url.startswith("https://") and len(remote.sha256) == 64
        assert remote.source and remote.terms and remote.voxel_size == (40.0, 4.0, 4.0)


def test_a_server_without_range_requests_starts_over(server, tmp_path):
    server.drop_after, server.ignore_range = 100_000, True
    with pytest.raises(ConnectionError):
        fetch(_remote(server), directory=tmp_path, progress=False)
    path = fetch(_remote(server), directory=tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD  # the whole file again, not appended to the part


def test_the_command_line_lists_and_fetches(server, tmp_path, monkeypatch, capsys):
    from mbl_seg import cli
    from mbl_seg.data import remote as module

    assert cli.main(["fetch", "--list"]) == 0
    assert "cremi/A" in capsys.readouterr().out
    monkeypatch.setitem(module.REMOTE, "test/volume", _remote(server))
    assert cli.main(["fetch", "test/volume", "--directory", str(tmp_path)]) == 0
    assert (tmp_path / "test_volume.hdf").read_bytes() == PAYLOAD
    assert cli.main(["fetch", "nothing/here"]) == 1
    assert "unknown volume" in capsys.readouterr().err
