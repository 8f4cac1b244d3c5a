"""dates() and datetimes(): distinct truncated values, on every backend, with and
without a time zone (Django's QuerySet.dates / QuerySet.datetimes)."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
import pytest_asyncio

from vivace.db import Database
from vivace.orm import FieldError, QueryError

from .library import Library, make_library
from .models import Author, Book, Everything

pytestmark = pytest.mark.asyncio(loop_scope="package")

D, DT = datetime.date, datetime.datetime
PARIS = zoneinfo.ZoneInfo("Europe/Paris")  # CET; CEST from 2024-03-31 01:00 UTC
INDIA = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
MOMENTS = [
    DT(2023, 12, 31, 23, 30),  # a Sunday, in UTC; Monday 00:30 in Paris
    DT(2024, 1, 1, 0, 15, 30, 500_000),
    DT(2024, 1, 1, 0, 15, 59),
    DT(2024, 3, 31, 0, 30),  # 01:30 CET
    DT(2024, 3, 31, 1, 0),  # the change: 03:00 CEST
    DT(2024, 7, 14, 12, 0),  # 14:00 CEST, a Sunday
    None,
]


@pytest_asyncio.fixture(loop_scope="package")
async def moments(db: Database) -> None:
    await Everything.objects.bulk_create(
        [
            Everything(moment=m, day=m.date() if m else None, name=str(i))
            for i, m in enumerate(MOMENTS)
        ]
    )


async def test_dates(moments: None) -> None:
    dates = Everything.objects.dates
    assert await dates("moment", "year") == [D(2023, 1, 1), D(2024, 1, 1)]
    assert await dates("moment", "month") == [
        D(2023, 12, 1),
        D(2024, 1, 1),
        D(2024, 3, 1),
        D(2024, 7, 1),
    ]
    # The week is its Monday: a Sunday belongs to the week before.
    weeks = [D(2023, 12, 25), D(2024, 1, 1), D(2024, 3, 25), D(2024, 7, 8)]
    assert await dates("moment", "week") == weeks
    assert await dates("day", "week") == weeks  # a DateField too
    days = [D(2023, 12, 31), D(2024, 1, 1), D(2024, 3, 31), D(2024, 7, 14)]
    assert await dates("moment", "day") == days
    assert await dates("day", "day", order="DESC") == days[::-1]
    assert await dates("day", "year", "DESC") == [D(2024, 1, 1), D(2023, 1, 1)]
    # A queryset's filters apply; an empty one gives nothing; count() and slices work.
    narrowed = Everything.objects.filter(moment__gte=DT(2024, 2, 1)).dates("moment", "month")
    assert await narrowed == [D(2024, 3, 1), D(2024, 7, 1)]
    assert await Everything.objects.filter(name="none").dates("day", "day") == []
    assert await Everything.objects.dates("moment", "day").count() == 4
    assert await Everything.objects.dates("moment", "day")[1:2] == [D(2024, 1, 1)]
    assert all(type(d) is D for d in await dates("moment", "day"))
    from vivace.orm._dates import Trunc

    assert repr(Trunc("moment", "day", "date")) == "Trunc('moment', 'day')"


async def test_datetimes_naive_utc(moments: None) -> None:
    datetimes = Everything.objects.datetimes
    assert await datetimes("moment", "year") == [DT(2023, 1, 1), DT(2024, 1, 1)]
    assert await datetimes("moment", "week") == [
        DT(2023, 12, 25),
        DT(2024, 1, 1),
        DT(2024, 3, 25),
        DT(2024, 7, 8),
    ]
    assert await datetimes("moment", "hour") == [
        DT(2023, 12, 31, 23),
        DT(2024, 1, 1, 0),
        DT(2024, 3, 31, 0),
        DT(2024, 3, 31, 1),
        DT(2024, 7, 14, 12),
    ]
    assert await datetimes("moment", "minute", "DESC") == [
        DT(2024, 7, 14, 12, 0),
        DT(2024, 3, 31, 1, 0),
        DT(2024, 3, 31, 0, 30),
        DT(2024, 1, 1, 0, 15),
        DT(2023, 12, 31, 23, 30),
    ]
    seconds = await datetimes("moment", "second")
    assert seconds == [m.replace(microsecond=0) for m in MOMENTS if m is not None]
    assert all(type(d) is DT and d.tzinfo is None for d in seconds)


async def test_datetimes_in_a_time_zone(moments: None) -> None:
    datetimes = Everything.objects.datetimes
    # Truncated in Paris's local time, returned aware in Paris: the 2023 value is 2024
    # there, and each side of the DST change keeps its own offset.
    years = await datetimes("moment", "year", tzinfo=PARIS)
    assert years == [DT(2024, 1, 1, tzinfo=PARIS)]
    assert years[0].tzinfo is PARIS and years[0].utcoffset() == datetime.timedelta(hours=1)
    hours = await datetimes("moment", "hour", tzinfo=PARIS)
    assert hours == [
        DT(2024, 1, 1, 0, tzinfo=PARIS),
        DT(2024, 1, 1, 1, tzinfo=PARIS),
        DT(2024, 3, 31, 1, tzinfo=PARIS),
        DT(2024, 3, 31, 3, tzinfo=PARIS),
        DT(2024, 7, 14, 14, tzinfo=PARIS),
    ]
    assert [h.utcoffset() for h in hours][-2:] == [datetime.timedelta(hours=2)] * 2
    assert await datetimes("moment", "day", "DESC", tzinfo=PARIS) == [
        DT(2024, 7, 14, tzinfo=PARIS),
        DT(2024, 3, 31, tzinfo=PARIS),
        DT(2024, 1, 1, tzinfo=PARIS),
    ]
    assert await datetimes("moment", "week", tzinfo=PARIS) == [
        DT(2024, 1, 1, tzinfo=PARIS),
        DT(2024, 3, 25, tzinfo=PARIS),
        DT(2024, 7, 8, tzinfo=PARIS),
    ]
    seconds = await datetimes("moment", "second", tzinfo=PARIS)
    expected = [m.replace(microsecond=0, tzinfo=datetime.UTC) for m in MOMENTS if m]
    assert seconds == expected  # aware datetimes compare as instants
    # A fixed offset (no transitions), and UTC itself.
    assert await datetimes("moment", "minute", tzinfo=INDIA) == [
        DT(2024, 1, 1, 5, 0, tzinfo=INDIA),
        DT(2024, 1, 1, 5, 45, tzinfo=INDIA),
        DT(2024, 3, 31, 6, 0, tzinfo=INDIA),
        DT(2024, 3, 31, 6, 30, tzinfo=INDIA),
        DT(2024, 7, 14, 17, 30, tzinfo=INDIA),
    ]
    utc = await datetimes("moment", "year", tzinfo=datetime.UTC)
    assert utc == [DT(2023, 1, 1, tzinfo=datetime.UTC), DT(2024, 1, 1, tzinfo=datetime.UTC)]


async def test_dates_across_relations(db: Database) -> None:
    lib: Library = await make_library()
    # Bob's books: one published in 2001, one never: the NULL stays out.
    assert await Author.objects.dates("books__published", "year") == [
        D(1843, 1, 1),
        D(2001, 1, 1),
        D(2020, 1, 1),
    ]
    assert await Author.objects.filter(name="Bob").dates("books__published", "month") == [
        D(2001, 5, 1)
    ]
    assert await Book.objects.filter(author=lib.ada).dates("published", "year") == [D(1843, 1, 1)]


async def test_bad_arguments(db: Database) -> None:
    with pytest.raises(QueryError, match="kind must be one of 'year', 'month', 'week', 'day'"):
        Everything.objects.dates("moment", "hour")
    with pytest.raises(QueryError, match="kind must be one of"):
        Everything.objects.datetimes("moment", "decade")
    with pytest.raises(QueryError, match="order must be 'ASC' or 'DESC'"):
        Everything.objects.dates("moment", "day", order="asc")
    with pytest.raises(FieldError, match="not a DateTimeField"):
        Everything.objects.datetimes("day", "day")
    with pytest.raises(FieldError, match="not a DateField"):
        Everything.objects.dates("name", "day")
    with pytest.raises(FieldError, match="choices"):
        Everything.objects.dates("momnet", "day")
    with pytest.raises(FieldError, match="not a relation"):
        Author.objects.dates("name__published", "day")
    with pytest.raises(QueryError, match="tzinfo must be"):
        Everything.objects.datetimes("moment", "day", tzinfo="Europe/Paris")  # type: ignore[arg-type]

    class Nowhere(datetime.tzinfo):
        def utcoffset(self, dt: DT | None) -> None:
            return None

    with pytest.raises(QueryError, match="gives no UTC offset"):
        Everything.objects.datetimes("moment", "day", tzinfo=Nowhere())
    with pytest.raises(QueryError, match="sliced"):
        Everything.objects.all()[:2].dates("moment", "day")


async def test_zone_transitions_match_the_zone() -> None:
    # The offsets the SQL applies are the zone's own at every instant (random instants
    # over the window, and each side of every change), LMT's odd seconds included.
    import bisect
    import random

    from vivace.orm._dates import FIRST, LAST, transitions

    for zone in ("Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"):
        tz = zoneinfo.ZoneInfo(zone)
        first, changes = transitions(tz)
        instants = [instant for instant, _ in changes]

        rng = random.Random(zone)
        span = int((LAST - FIRST).total_seconds())
        probes = [FIRST + datetime.timedelta(seconds=rng.randrange(span)) for _ in range(2000)]
        for instant in instants:
            probes += [instant, instant - datetime.timedelta(seconds=1)]
        for at in probes:
            index = bisect.bisect_right(instants, at)
            applied = first if index == 0 else changes[index - 1][1]
            delta = at.replace(tzinfo=datetime.UTC).astimezone(tz).utcoffset()
            assert delta is not None and applied == int(delta.total_seconds()), (zone, at)
    assert transitions(datetime.UTC) == (0, ())
