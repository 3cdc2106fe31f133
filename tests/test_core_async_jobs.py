"""The job engine's logic with a scripted vendor and a fake clock: no HTTP, no sleeps."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import logging
import random
import zipfile
from pathlib import Path

import pytest

from tap_retail_reports.core.async_jobs import MAX_ATTEMPTS, STORED_JOB_MAX_AGE, JobRunner
from tap_retail_reports.core.download import DownloadFailed, LinkExpired
from tap_retail_reports.core.file_formats import CorruptFile, not_a_report, verify
from tap_retail_reports.core.files import report_tables
from tap_retail_reports.core.job_model import (
    JobRecord,
    JobSpec,
    JobStatus,
    Poll,
    PollSchedule,
    StatusMap,
    UnknownJobStatus,
)
from tap_retail_reports.core.tables import unique_columns
from tap_retail_reports.core.windows import UTC, Window, local_day_windows
from tests.conftest import FakeClock

WINDOW = Window(dt.datetime(2026, 10, 1, tzinfo=UTC), dt.datetime(2026, 10, 2, tzinfo=UTC))
SPEC = JobSpec("s", (), WINDOW, {"from": "2026-10-01"})
MAP = StatusMap("vendor", {"queued": JobStatus.RUNNING, "ready": JobStatus.DONE, "error": JobStatus.FAILED,
                           "gone": JobStatus.EXPIRED})


START = 1_000_000.0  # the fake clock's epoch seconds at the start of each test


class ScriptedVendor:
    """Each created job answers polls from a script: a list of statuses, the last repeated."""

    def __init__(self, *scripts: list[str]) -> None:
        self.scripts = list(scripts)
        self.created: list[str] = []
        self.polls: dict[str, int] = {}

    def create(self, spec: JobSpec) -> str:
        job_id = f"job-{len(self.created) + 1}"
        self.created.append(job_id)
        return job_id

    def poll(self, job_id: str) -> Poll:
        script = self.scripts[min(int(job_id.split("-")[1]) - 1, len(self.scripts) - 1)]
        count = self.polls[job_id] = self.polls.get(job_id, 0) + 1
        status = script[min(count - 1, len(script) - 1)]
        return Poll(MAP(status), status, f"https://storage.example/{job_id}?sig=s3cr3t{count}" if status == "ready" else None)


class FakeDownloader:
    """Answers links by script: 'ok', 'expired', 'truncated' (as many as listed, then ok)."""

    def __init__(self, tmp: Path, outcomes: list[str] | None = None) -> None:
        self.tmp = tmp
        self.outcomes = list(outcomes or [])
        self.links: list[str] = []

    def fetch(self, url: str, **_: object) -> Path:
        self.links.append(url)
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if outcome == "expired":
            raise LinkExpired("HTTP 403")
        if outcome == "truncated":
            raise DownloadFailed("got 10 of 20 bytes")
        path = self.tmp / f"file{len(self.links)}.csv"
        path.write_bytes(b"a,b\n1,2\n")
        return path


def runner(vendor, downloader, clock, timeout=3600.0, created=None):
    return JobRunner(vendor, downloader, logging.getLogger("test"), timeout, PollSchedule(1.0, 2.0, 8.0, 0.0),
                     retry_wait_seconds=5.0, clock=clock, sleep=clock.sleep,
                     on_created=(lambda spec, record: created.append(record)) if created is not None else (lambda *_: None))


def test_a_job_is_polled_until_ready_then_downloaded(tmp_path):
    clock, vendor = FakeClock(START), ScriptedVendor(["queued", "queued", "queued", "ready"])
    created: list[JobRecord] = []
    result = runner(vendor, FakeDownloader(tmp_path), clock, created=created).run(SPEC, None, "s.csv")
    assert result.error is None and result.path is not None and result.path.read_bytes() == b"a,b\n1,2\n"
    assert vendor.created == ["job-1"] and result.polls == 4 and result.creations == 1
    assert [r.job_id for r in created] == ["job-1"] and created[0].params == {"from": "2026-10-01"}
    assert result.waited == 1 + 2 + 6  # each wait twice the job's age (at least 1 s): the schedule grows


def test_a_failed_job_is_recreated_at_most_three_times(tmp_path):
    clock, vendor = FakeClock(START), ScriptedVendor(["queued", "error"])
    result = runner(vendor, FakeDownloader(tmp_path), clock).run(SPEC, None, "s.csv")
    assert len(vendor.created) == MAX_ATTEMPTS == 3
    assert result.path is None and "gave up after 3 job(s)" in result.error and "'error'" in result.error


def test_a_failed_job_then_a_good_one(tmp_path):
    clock, vendor = FakeClock(START), ScriptedVendor(["error"], ["ready"])
    result = runner(vendor, FakeDownloader(tmp_path), clock).run(SPEC, None, "s.csv")
    assert result.error is None and vendor.created == ["job-1", "job-2"]


def test_a_stored_job_past_its_timeout_is_abandoned_and_recreated(tmp_path):
    clock, vendor = FakeClock(START), ScriptedVendor(["ready"], ["queued"])  # job-9: the last script
    stored = JobRecord("job-9", {"from": "2026-10-01"}, clock.now - 60, 1)
    result = runner(vendor, FakeDownloader(tmp_path), clock, timeout=30.0).run(SPEC, stored, "s.csv")
    assert result.error is None and vendor.created == ["job-1"]


def test_the_timeout_bounds_every_attempt_of_a_window_together(tmp_path):
    clock, vendor = FakeClock(START), ScriptedVendor(["queued"], ["ready"])
    result = runner(vendor, FakeDownloader(tmp_path), clock, timeout=30.0).run(SPEC, None, "s.csv")
    assert vendor.created == ["job-1"] and result.path is None
    assert "gave up after 0.5 min (job_timeout_minutes, every attempt together)" in result.error
    assert clock.now - START == 30.0


class ForgetfulVendor(ScriptedVendor):
    """Answers 404 for job ids it never made (a stored job from a purged or restarted vendor)."""

    def poll(self, job_id: str) -> Poll:
        if job_id not in self.created:
            error = RuntimeError(f"GET /reports/{job_id} -> HTTP 404")
            error.response = type("R", (), {"status_code": 404})()  # type: ignore[attr-defined]
            raise error
        return super().poll(job_id)


def test_a_stored_job_the_vendor_does_not_know_is_created_again(tmp_path):
    clock, vendor = FakeClock(START), ForgetfulVendor(["ready"])
    stored = JobRecord("job-77", {"from": "2026-10-01"}, clock.now - 60, 1)
    result = runner(vendor, FakeDownloader(tmp_path), clock).run(SPEC, stored, "s.csv")
    assert result.error is None and vendor.created == ["job-1"]


def test_a_stored_job_older_than_the_age_limit_is_not_trusted(tmp_path):
    clock, vendor = FakeClock(START), ScriptedVendor(["ready"])
    stored = JobRecord("job-1", {"from": "2026-10-01"}, clock.now - STORED_JOB_MAX_AGE - 1, 1)
    result = runner(vendor, FakeDownloader(tmp_path), clock).run(SPEC, stored, "s.csv")
    assert result.error is None and vendor.created == ["job-1"] and vendor.polls == {"job-1": 1}


def test_an_unknown_status_is_polled_on_until_the_deadline(tmp_path):
    clock, vendor = FakeClock(START), ScriptedVendor(["paused", "paused", "ready"])
    result = runner(vendor, FakeDownloader(tmp_path), clock).run(SPEC, None, "s.csv")
    assert result.error is None and vendor.created == ["job-1"] and result.polls == 3


def test_a_link_past_its_stated_expiry_is_tried_all_the_same(tmp_path):
    clock, downloader = FakeClock(START), FakeDownloader(tmp_path)

    class StaleExpiry(ScriptedVendor):
        def poll(self, job_id: str) -> Poll:
            poll = super().poll(job_id)
            poll.link_expires_at = clock.now - 5 * 3600  # another reading of the vendor's zone
            return poll

    result = runner(StaleExpiry(["ready"]), downloader, clock).run(SPEC, None, "s.csv")
    assert result.error is None and len(downloader.links) == 1


def test_failed_downloads_ask_for_a_fresh_link_before_the_job_is_created_again(tmp_path):
    clock, vendor = FakeClock(START), ScriptedVendor(["ready"])
    downloader = FakeDownloader(tmp_path, ["truncated"] * 3)
    result = runner(vendor, downloader, clock).run(SPEC, None, "s.csv")
    assert result.error is None and vendor.created == ["job-1"] and len(set(downloader.links)) == 2


def test_an_expired_link_is_refreshed_without_recreating_the_job(tmp_path):
    clock, vendor = FakeClock(START), ScriptedVendor(["ready"])
    downloader = FakeDownloader(tmp_path, ["expired", "expired"])
    result = runner(vendor, downloader, clock).run(SPEC, None, "s.csv")
    assert result.error is None and vendor.created == ["job-1"]
    assert len(set(downloader.links)) == 3  # each try with a fresh link from a new poll


def test_a_truncated_download_is_fetched_again(tmp_path):
    clock, vendor = FakeClock(START), ScriptedVendor(["ready"])
    result = runner(vendor, FakeDownloader(tmp_path, ["truncated"]), clock).run(SPEC, None, "s.csv")
    assert result.error is None and result.downloads == 2 and vendor.created == ["job-1"]


def test_a_stored_job_is_resumed_when_its_parameters_match(tmp_path):
    clock, vendor = FakeClock(START), ScriptedVendor(["ready"])
    stored = JobRecord("job-1", {"from": "2026-10-01"}, clock.now - 60, 1)
    result = runner(vendor, FakeDownloader(tmp_path), clock).run(SPEC, stored, "s.csv")
    assert result.error is None and vendor.created == [] and vendor.polls == {"job-1": 1}


def test_a_stored_job_with_other_parameters_is_not_resumed(tmp_path):
    clock, vendor = FakeClock(START), ScriptedVendor(["ready"])
    stored = JobRecord("job-9", {"from": "2026-09-01"}, clock.now, 1)
    result = runner(vendor, FakeDownloader(tmp_path), clock).run(SPEC, stored, "s.csv")
    assert result.error is None and vendor.created == ["job-1"]


def test_an_unknown_status_is_an_exception_that_names_it():
    with pytest.raises(UnknownJobStatus, match="'paused'"):
        MAP("paused")
    assert MAP(" READY ") is JobStatus.DONE
    with pytest.raises(ValueError, match="mapped twice"):
        StatusMap("v", {"done": JobStatus.DONE, "DONE": JobStatus.DONE, "r": JobStatus.RUNNING})


def test_job_records_round_trip_through_state():
    record = JobRecord("R-1", {"a": 1}, 12.5, 2)
    assert JobRecord.from_state(record.to_state()) == record
    assert JobRecord.from_state({"nonsense": True}) is None


def test_poll_waits_grow_with_the_jobs_age_to_a_cap_with_jitter():
    schedule = PollSchedule(1.0, 0.5, 10.0, 0.2, rng=random.Random(1))
    values = [schedule.delay(age) for age in (0, 1, 2, 4, 8, 16, 30, 60, 600)]
    assert all(0.8 <= v <= 1.2 for v in values[:3]) and 1.6 <= values[3] <= 2.4 and 3.2 <= values[4] <= 4.8
    assert 6.4 <= values[5] <= 9.6 and all(8.0 <= v <= 12.0 for v in values[6:])
    assert len(set(values)) == len(values)  # jitter: no two jobs poll in lockstep


@pytest.mark.parametrize("ready_after", [5, 7.3, 10, 13, 30, 119, 120, 600, 799, 800, 1799, 1800])
def test_a_report_is_seen_within_a_fifth_of_its_time_or_two_seconds(ready_after):
    """The default schedule, jitter at both extremes: the first poll after a report is ready at T comes
    within max(20% of T, 2 s), with room left to fetch the file (issue 17, point 7)."""
    for side in ("low", "high"):
        schedule = PollSchedule(rng=ExtremeJitter(side))
        now = 0.0
        while now < ready_after:
            now += schedule.delay(now)
        assert now - ready_after <= 0.85 * max(0.2 * ready_after, 2.0), (ready_after, side, now)


class ExtremeJitter(random.Random):
    """Jitter always at one end of its range."""

    def __init__(self, side: str) -> None:
        super().__init__()
        self.side = side

    def uniform(self, a: float, b: float) -> float:
        return a if self.side == "low" else b


def test_local_day_windows_follow_dst():
    zone = __import__("zoneinfo").ZoneInfo("America/Los_Angeles")
    start = dt.datetime(2026, 10, 31, 7, tzinfo=UTC)  # local midnight, PDT
    windows = list(local_day_windows(start, dt.datetime(2026, 11, 3, 8, tzinfo=UTC), 1, zone))
    assert [(w.end - w.start).total_seconds() / 3600 for w in windows] == [24, 25, 24]
    assert windows[1].start == dt.datetime(2026, 11, 1, 7, tzinfo=UTC)


# -- files ---------------------------------------------------------------------------

def rows(path: Path, name: str = "report.csv") -> dict[str, list]:
    return {f.name: [row for _, row in f.rows()] for f in report_tables(path, name)}


def test_csv_gzip_and_zip_are_told_from_their_bytes(tmp_path):
    text = "id,amount\n1,2.50\n2,\"1,000\"\n"
    plain = tmp_path / "a.download"
    plain.write_bytes(b"\xef\xbb\xbf" + text.encode())
    packed = tmp_path / "b.download"
    packed.write_bytes(gzip.compress(text.encode()))
    archive = tmp_path / "c.download"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("one.csv", text)
        z.writestr("two.csv", "x\n9\n")
    expected = [{"id": "1", "amount": "2.50"}, {"id": "2", "amount": "1,000"}]
    assert rows(plain) == {"report.csv": expected}
    assert rows(packed) == {"report.csv": expected}
    assert rows(archive) == {"one.csv": expected, "two.csv": [{"x": "9"}]}
    for path in (plain, packed, archive):
        verify(path)


def test_a_corrupt_archive_is_caught_before_any_row_is_used(tmp_path):
    archive = tmp_path / "c.download"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("one.csv", "id\n" + "".join(f"{i}\n" for i in range(5000)))
    data = bytearray(archive.read_bytes())
    data[len(data) // 3] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(CorruptFile):
        verify(archive)
    cut = tmp_path / "g.download"
    cut.write_bytes(gzip.compress(b"id\n" * 5000)[:-20])
    with pytest.raises(CorruptFile):
        verify(cut)


def test_headers_are_made_unique_never_dropped_and_odd_bytes_are_kept(tmp_path):
    assert unique_columns(["a", "", "a", " b ", "a"]) == ["a", "_column_2", "a_2", "b", "a_3"]
    path = tmp_path / "x.download"
    path.write_bytes("name,city\nJos\xe9,S\xe3o Paulo\n".encode("cp1252") + "Zoë,Köln,extra\n".encode())
    assert rows(path)["report.csv"] == [
        {"name": "José", "city": "São Paulo"},
        {"name": "Zoë", "city": "Köln", "_column_3": "extra"},
    ]


def test_a_quoted_newline_stays_inside_its_field(tmp_path):
    path = tmp_path / "q.download"
    path.write_bytes(io.BytesIO(b'note,n\n"two\nlines",1\n').getvalue())
    assert rows(path)["report.csv"] == [{"note": "two\nlines", "n": "1"}]


@pytest.mark.parametrize(("body", "what", "expired"), [
    (b"", "an empty body", False),
    (b"  \r\n", "an empty body", False),
    (b"\xef\xbb\xbf<!DOCTYPE html><html><body>Sign in</body></html>", "an HTML page", False),
    (b"\n<html lang=en><head></head></html>", "an HTML page", False),
    (b'<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
     "an XML document saying the link expired", True),
    (b"<Error><Code>InternalError</Code></Error>", "an XML document", False),
    (b'{"error": "token expired"}', "a JSON document saying the link expired", True),
    (b' [{"error": 1}]', "a JSON document", False),
    (gzip.compress(b"<!DOCTYPE html><html></html>", mtime=0), "an HTML page", False),
])
def test_bodies_that_are_not_a_report_are_named(tmp_path, body, what, expired):
    path = tmp_path / "body"
    path.write_bytes(body)
    problem = not_a_report(path)
    assert problem is not None and str(problem).startswith(what) and problem.expired is expired


def test_reports_pass_and_a_format_the_vendor_does_not_send_is_named(tmp_path):
    path = tmp_path / "body"
    for body in (b"id,name\r\n1,x\r\n", b"[id],[name]\n1,x\n", gzip.compress(b"a,b\n1,2\n"), b"a\n"):
        path.write_bytes(body)
        assert not_a_report(path) is None, body
    path.write_bytes(b"id,name\r\n1,x\r\n")
    assert str(not_a_report(path, {"zip"})) == "a csv file, while this vendor sends zip"


def test_no_job_is_created_once_the_wait_before_it_reaches_the_window_deadline(tmp_path):
    # job-1 fails at t=23 (polls at 0, 1, 3, 7, 15, 23); the 5 s wait before job-2 is cut to the
    # deadline at t=25. Before, job-2 was created then, at the deadline, to be polled once and abandoned.
    clock, vendor = FakeClock(START), ScriptedVendor(["queued"] * 5 + ["error"], ["queued"])
    result = runner(vendor, FakeDownloader(tmp_path), clock, timeout=25.0).run(SPEC, None, "s.csv")
    assert vendor.created == ["job-1"], vendor.created
    assert result.path is None and "every attempt together" in result.error and "'error'" in result.error
