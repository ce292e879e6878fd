-- What both DuckDB floors share (bench/floor.sql, bench/floor_minimal.sql): the session, the
-- macros, and the table of UTC offsets. bench/impl_duckdb.py runs it before either script.

SET TimeZone = 'UTC';
-- Every join in the floors has its small side (a reference table, the UTC offsets) on the
-- right, which is where DuckDB builds its hash table when this rule is off. With it on, DuckDB
-- may build on the millions of flights instead: it estimates the rows a CSV scan or a chain of
-- filters yields at a small fraction of the truth (the minimal floor at 10x: 2.1 s of CPU for
-- one join built the wrong way round). The join order stays the optimizer's.
SET disabled_optimizers = 'build_side_probe_side';

-- 'NA' and empty text are null, surrounding spaces are not part of a value (parsing.py).
CREATE OR REPLACE TEMP MACRO nz(x) AS nullif(nullif(trim(x), 'NA'), '');
CREATE OR REPLACE TEMP MACRO file_day(path) AS
    strptime(regexp_extract(path, '(\d{4}-\d{2}-\d{2})\.csv$', 1), '%Y-%m-%d')::DATE;
CREATE OR REPLACE TEMP MACRO hhmm_minutes(t) AS (t::INTEGER // 100) * 60 + t::INTEGER % 100;
CREATE OR REPLACE TEMP MACRO bad_hhmm(t) AS t < 0 OR t > 2400 OR t % 100 >= 60;
-- Whole days between the scheduled day and the day an actual clock time falls on
-- (flights.day_offset_from_delay; Polars rounds half to even).
CREATE OR REPLACE TEMP MACRO day_offset(sched, delay, clock) AS
    coalesce(round_even((sched + delay - clock) / 1440.0, 0)::INTEGER, 0);
-- An arrival clock more than 6 hours behind the departure clock is on the next day.
CREATE OR REPLACE TEMP MACRO arrival_minutes(dep, clock) AS
    clock + CASE WHEN clock < dep - 360 THEN 1440 ELSE 0 END;
-- Times are integers: a wall clock is minutes since 1970-01-01 00:00 on that clock, an instant
-- minutes since 1970-01-01 00:00 UTC. Arithmetic on them is plain integer arithmetic (adding
-- an INTERVAL to a TIMESTAMPTZ goes through ICU's calendar), and a wall clock's hour is a
-- division.
CREATE OR REPLACE TEMP MACRO wall_minutes(day, minutes) AS
    (day - DATE '1970-01-01') * 1440 + minutes;
-- A wall clock in `zone` as a UTC instant through ICU: at a fall-back hour the earlier instant,
-- in a spring-forward gap null (ICU alone would take the later instant and shift gap times
-- forward). Several ICU calls: used to build `utc_offsets` and for the few rows it misses.
CREATE OR REPLACE TEMP MACRO icu_timestamp(wall) AS make_timestamp(wall * 60000000);
CREATE OR REPLACE TEMP MACRO icu_utc_minutes(wall, zone) AS CASE
    WHEN timezone(zone, timezone(zone, icu_timestamp(wall)) - INTERVAL 1 HOUR)
         = icu_timestamp(wall)
        THEN epoch_ms(timezone(zone, icu_timestamp(wall)) - INTERVAL 1 HOUR) // 60000
    WHEN timezone(zone, timezone(zone, icu_timestamp(wall))) = icu_timestamp(wall)
        THEN epoch_ms(timezone(zone, icu_timestamp(wall))) // 60000
END;
-- A wall clock as a UTC instant from its hour's row in `utc_offsets` (`uniform`,
-- `offset_minutes`); ICU only where the table has no row or the hour has no single offset.
CREATE OR REPLACE TEMP MACRO utc_minutes(wall, zone, uniform, offset_minutes) AS CASE
    WHEN uniform THEN wall - offset_minutes
    WHEN zone IS NULL THEN NULL
    ELSE icu_utc_minutes(wall, zone)
END;
-- Days to move an arrival so it falls within the 24 hours after its departure.
CREATE OR REPLACE TEMP MACRO day_shift(arrival, departure) AS CASE
    WHEN arrival - departure <= 0 THEN 1
    WHEN arrival - departure > 1440 THEN -1
    ELSE 0
END;

-- UTC offsets per time zone and local hour, computed once with ICU (~80,000 rows) instead of
-- several ICU calls per flight: a wall clock's instant is then its hour's row, joined.
-- `uniform`: one offset holds for the whole hour (every hour of a zone whose changes fall on
-- the hour; a gap hour is uniformly null). The zones are every known one the airports files
-- name, and New York; the hours cover every wall clock a flight of the delivered days can have
-- with delays the contract admits. Other wall clocks fall back to ICU (`utc_minutes`).
CREATE TEMP TABLE utc_offsets AS
WITH zones AS (
    SELECT DISTINCT nz(tzone) AS zone
    FROM read_csv(getvariable('landing') || '/airports/*.csv', all_varchar = true,
        header = true)
    WHERE nz(tzone) IN (SELECT name FROM pg_timezone_names())
    UNION SELECT 'America/New_York'
), days AS (
    SELECT min(file_day(file)) - 7 AS first_day, max(file_day(file)) + 7 AS last_day
    FROM glob(getvariable('landing') || '/flights/*.csv')
), hours AS (
    SELECT zone, wall_minutes(first_day, 0) // 60 + h AS local_hour
    FROM zones, days, range((last_day - first_day) * 24) AS r(h)
)
SELECT zone, local_hour,
    local_hour * 60 - icu_utc_minutes(local_hour * 60, zone) AS offset_minutes,
    icu_utc_minutes(local_hour * 60 + 59, zone)
        IS NOT DISTINCT FROM icu_utc_minutes(local_hour * 60, zone) + 59 AS uniform
FROM hours;
