"""The dataset download: served from a local HTTP server and a file:// URL, with
truncated, corrupt, wrong and malicious archives."""

import hashlib
import http.server
import io
import json
import shutil
import stat
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from unetcolor import profiles
from unetcolor.photos import data, download

# The small archive's folders: both seasons, as in the real one, with other counts per folder.
COUNTS = {"trainA": 3, "testA": 2, "trainB": 4, "testB": 2}


def _tiny_jpeg(seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def make_zip(layout=None, extra=(), top="summer2winter_yosemite/"):
    """A small archive shaped like the real one: {folder: number of photos}, plus
    (ZipInfo or name, bytes) extras. Photos are stored uncompressed, as JPEGs are."""
    layout = COUNTS if layout is None else layout
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(top, b"") if top else None
        for position, (folder, count) in enumerate(layout.items()):
            for i in range(count):  # a different photo in every folder, as in the real archive
                archive.writestr(f"{top}{folder}/2013-11-{i + 10:02d} 08_00_00.jpg", _tiny_jpeg(100 * position + i))
        for member, content in extra:
            archive.writestr(member, content)
    return buffer.getvalue()


class Server:
    """A localhost HTTP server answering each GET with the next planned reply:
    ("full", bytes), or ("cut", bytes): the full Content-Length is announced but
    only half the body is sent before the connection closes."""

    def __init__(self):
        self.plan = []
        self.hits = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits += 1
                kind, body = server.plan.pop(0) if len(server.plan) > 1 else server.plan[0]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if kind == "full" else body[: len(body) // 2])
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/datasets/summer2winter_yosemite.zip"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def server(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    served = Server()
    yield served
    served.httpd.shutdown()
    served.httpd.server_close()


def _fetch(raw, url, **options):
    return download.fetch_dataset(raw, url=url, expected_counts=COUNTS, progress=False, **options)


def _leftovers(raw):
    """Anything a failed fetch must not leave: partial downloads, staging folders, the target."""
    if not raw.exists():
        return []
    return sorted(p.name for p in raw.iterdir() if p.suffix == ".part" or p.name.startswith(".") or p.is_dir())


def test_fetch_over_http_verifies_extracts_and_is_idempotent(tmp_path, server):
    archive = make_zip()
    server.plan = [("full", archive)]
    raw = tmp_path / "raw"
    extracted = _fetch(raw, server.url)
    assert extracted == raw / "summer2winter_yosemite"
    folders = download.photo_folders(extracted, "summer")
    assert [folder.name for folder in folders] == ["trainA", "testA"]
    assert [len(list(folder.glob("*.jpg"))) for folder in folders] == [3, 2]
    assert (extracted / "trainB").is_dir()
    marker = json.loads((extracted / download.MARKER).read_text())
    assert marker["sha256"] == hashlib.sha256(archive).hexdigest() and marker["counts"] == COUNTS
    assert sorted(p.name for p in raw.iterdir()) == ["summer2winter_yosemite", "summer2winter_yosemite.zip"]

    assert _fetch(raw, server.url) == extracted
    assert _fetch(raw, server.url, sha256=hashlib.sha256(archive).hexdigest()) == extracted
    assert server.hits == 1  # the second and third calls never reached the network


def test_fetch_from_a_file_url_with_a_different_layout(tmp_path):
    source = tmp_path / "downloads" / "s2w.zip"
    source.parent.mkdir()
    source.write_bytes(make_zip(top="some/where/"))
    extracted = _fetch(tmp_path / "raw", source.as_uri())
    assert [len(list(folder.iterdir())) for folder in download.photo_folders(extracted, "winter")] == [4, 2]
    assert (tmp_path / "raw" / "s2w.zip").read_bytes() == source.read_bytes()


def test_a_dropped_connection_is_fetched_again(tmp_path, server):
    server.plan = [("cut", make_zip()), ("full", make_zip())]
    extracted = _fetch(tmp_path / "raw", server.url)
    assert server.hits == 2
    assert len(download.photo_folders(extracted, "summer")) == 2


def test_two_failures_raise_naming_the_url_and_leave_nothing(tmp_path, server):
    server.plan = [("cut", make_zip())]
    raw = tmp_path / "raw"
    with pytest.raises(download.ArchiveError, match="received .* bytes") as error:
        _fetch(raw, server.url)
    assert server.url in str(error.value) and "DATA_DIR" in str(error.value)
    assert server.hits == 2
    assert _leftovers(raw) == [] and list(raw.iterdir()) == []


def test_truncated_and_corrupt_archives_are_detected(tmp_path):
    whole = make_zip()
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(whole[: len(whole) - 200])
    with pytest.raises(download.ArchiveError, match="not a complete"):
        _fetch(tmp_path / "raw1", truncated.as_uri())

    # Flip one byte inside a stored photo: the zip opens, but its CRC fails.
    corrupt = bytearray(whole)
    position = whole.index(_tiny_jpeg(1)) + 40
    corrupt[position] ^= 0xFF
    path = tmp_path / "corrupt.zip"
    path.write_bytes(bytes(corrupt))
    with pytest.raises(download.ArchiveError, match="CRC"):
        _fetch(tmp_path / "raw2", path.as_uri())
    assert _leftovers(tmp_path / "raw1") == [] and _leftovers(tmp_path / "raw2") == []


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({"trainA": 3, "trainB": 4, "testB": 2}, r"testA/ has 0 photos, expected 2 \(missing\)"),
        ({"trainA": 3, "testA": 2}, r"trainB/ has 0 photos, expected 4 \(missing\)"),
        ({**COUNTS, "trainA": 2}, r"trainA/ has 2 photos, expected 3"),
        ({"photos": 5}, r"expected photo folders \['testA', 'testB', 'trainA', 'trainB'\]"),
    ],
)
def test_a_wrong_archive_names_what_is_missing(tmp_path, layout, message):
    path = tmp_path / "wrong.zip"
    path.write_bytes(make_zip(layout))
    with pytest.raises(download.ArchiveError, match=message):
        _fetch(tmp_path / "raw", path.as_uri())
    assert _leftovers(tmp_path / "raw") == []


def test_a_sha256_mismatch_is_refused(tmp_path):
    path = tmp_path / "s2w.zip"
    path.write_bytes(make_zip())
    with pytest.raises(download.ArchiveError, match="sha256 is [0-9a-f]{64}, expected 0{64}"):
        _fetch(tmp_path / "raw", path.as_uri(), sha256="0" * 64)
    assert _leftovers(tmp_path / "raw") == []


def _symlink_member():
    member = zipfile.ZipInfo("summer2winter_yosemite/trainA/link.jpg")
    member.create_system = 3  # Unix, so external_attr's high bits are a file mode
    member.external_attr = (stat.S_IFLNK | 0o777) << 16
    return member


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        ("summer2winter_yosemite/../../evil.txt", "'..' path component"),
        ("/abs.txt", "absolute path"),
        ("C:/evil.txt", "absolute path"),
        (_symlink_member(), "symbolic link"),
    ],
    ids=["dotdot", "absolute", "drive", "symlink"],
)
def test_malicious_members_are_refused_and_nothing_escapes(tmp_path, member, reason):
    path = tmp_path / "downloads" / "evil.zip"
    path.parent.mkdir()
    path.write_bytes(make_zip(extra=[(member, b"../../../../etc/passwd")]))
    name = member if isinstance(member, str) else member.filename
    with pytest.raises(download.ArchiveError, match=f"unsafe archive member '{name}': {reason}"):
        _fetch(tmp_path / "sandbox" / "raw", path.as_uri())
    everything = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert everything == ["downloads", "downloads/evil.zip", "sandbox", "sandbox/raw"]


def test_a_failure_during_extraction_leaves_no_half_written_folder(tmp_path, monkeypatch):
    path = tmp_path / "s2w.zip"
    path.write_bytes(make_zip())
    calls = []

    def failing_copy(source, target, length=0):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full (simulated)")
        target.write(source.read())

    monkeypatch.setattr(download.shutil, "copyfileobj", failing_copy)
    raw = tmp_path / "raw"
    with pytest.raises(OSError, match="disk full"):
        _fetch(raw, path.as_uri())
    assert sorted(p.name for p in raw.iterdir()) == ["s2w.zip"]  # the verified archive only

    monkeypatch.undo()
    extracted = _fetch(raw, path.as_uri())  # the kept archive is reused
    assert (extracted / download.MARKER).is_file()


def test_an_unverified_existing_folder_is_never_replaced(tmp_path):
    (tmp_path / "raw" / "summer2winter_yosemite" / "trainA").mkdir(parents=True)
    with pytest.raises(ValueError, match="not a verified extraction.*delete"):
        _fetch(tmp_path / "raw", "file:///nowhere.zip")


def test_an_archive_given_in_place_is_never_deleted(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    own = raw / "summer2winter_yosemite.zip"
    own.write_bytes(make_zip({"trainA": 1}))  # wrong counts
    with pytest.raises(download.ArchiveError, match="testA/ has 0 photos"):
        _fetch(raw, own.as_uri())
    assert own.is_file()


def test_an_extraction_from_another_archive_is_reported(tmp_path):
    path = tmp_path / "s2w.zip"
    path.write_bytes(make_zip())
    extracted = _fetch(tmp_path / "raw", path.as_uri())
    with pytest.raises(ValueError, match="comes from an archive with sha256 .*delete"):
        _fetch(tmp_path / "raw", path.as_uri(), sha256="f" * 64)
    next((extracted / "trainA").iterdir()).unlink()
    with pytest.raises(ValueError, match="photo counts .* are not the expected"):
        _fetch(tmp_path / "raw", path.as_uri())


def test_the_seasons_agree_with_the_profiles_and_the_paper():
    """The seasons a profile may choose are the dataset's; summer holds the paper's 1,540 photos
    (Section 3.3), winter does not, whatever the paper's sentence names."""
    assert tuple(download.SEASON_FOLDERS) == profiles.SEASONS
    assert sum(download.SEASON_FOLDERS["summer"].values()) == 1231 + 309 == 1540
    assert sum(download.SEASON_FOLDERS["winter"].values()) == 962 + 238
    assert profiles.load("paper").data["season"] == "summer"
    with pytest.raises(ValueError, match=r"data.season is 'autumn'; it must be one of \['summer', 'winter'\]"):
        profiles.load("paper", {"data.season": "autumn"})


def test_each_season_takes_its_own_folders_and_never_shares_a_prepared_cache(tmp_path):
    path = tmp_path / "s2w.zip"
    path.write_bytes(make_zip())
    extracted = _fetch(tmp_path / "raw", path.as_uri())
    summer = download.photo_folders(extracted, "summer")
    winter = download.photo_folders(extracted, "winter")
    assert [folder.name for folder in winter] == ["trainB", "testB"]
    assert [download.season_of(summer), download.season_of(winter), download.season_of(summer[:1])] == [
        "summer", "winter", None]
    with pytest.raises(ValueError, match="unknown season 'autumn'.*summer: trainA and testA.*winter: trainB"):
        download.photo_folders(extracted, "autumn")

    # Both seasons prepared in turn into one folder: the second never reuses the first's cache.
    out = tmp_path / "processed"
    identities = {}
    for season, folders in (("summer", summer), ("winter", winter), ("summer", summer)):
        report = data.prepare_dataset(folders, out, image_size=8, progress=False, workers=1)
        index = pd.read_csv(out / "index.csv")
        expected = {name: count for name, count in COUNTS.items() if name in download.SEASON_FOLDERS[season]}
        assert (report["status"] == "kept").sum() == sum(expected.values())
        assert index["file"].str.split("/").str[0].value_counts().to_dict() == expected
        identities.setdefault(season, set()).add(data.fingerprint(out))
    assert len(identities["summer"]) == 1 and identities["summer"] != identities["winter"]


def test_the_data_command_prepares_the_profiles_season_from_the_download(tmp_path, monkeypatch):
    """`python -m unetcolor data` with data.season: winter takes the archive's winter folders and
    records the season; the archive lies in data/raw already, so no network is needed."""
    project = Path(__file__).resolve().parents[1]
    shutil.copytree(project / "notebooks", tmp_path / "notebooks")
    shutil.copytree(project / "profiles", tmp_path / "profiles")
    (tmp_path / "profiles" / "winter.yaml").write_text(
        "extends: paper\ndata:\n  image_size: 8\n  season: winter\nmodel:\n  filters: [4, 8, 8]\n")
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    (raw / "summer2winter_yosemite.zip").write_bytes(make_zip(layout={**COUNTS, "trainB": 8}))
    monkeypatch.setattr(download, "EXPECTED_COUNTS", {**COUNTS, "trainB": 8})  # the small archive's counts
    monkeypatch.setenv("UNETCOLOR_ROOT", str(tmp_path))
    assert data.main(["--profile", "winter", "--workers", "1"]) == 0

    index = pd.read_csv(tmp_path / "data" / "processed" / "winter" / "index.csv")
    assert index["file"].str.split("/").str[0].value_counts().to_dict() == {"trainB": 8, "testB": 2}
    source = json.loads((tmp_path / "reports" / "winter" / "tables" / "data_source.json").read_text())
    assert source["kind"] == "download" and source["season"] == "winter"
