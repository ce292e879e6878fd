-- The DuckDB floor: the platform's transforms hand-written as one SQL script over the same
-- landing CSVs (lakehouse/transforms/*.py and contracts/*.py are the specification).
--
-- The runner sets `landing` (the landing folder) with SET VARIABLE before running this.
-- Results: tables mart_ontime_daily, mart_routes, mart_delay_weather and fact_fingerprint.
--
-- What it does, as the platform does: keep every field as text, type it (a value that does
-- not parse rejects its row instead of failing the file), drop rows with staging errors or
-- contract breaks, keep the last delivery of each business key, build local and UTC
-- departures, resolve arrival days and arrival UTC in the destination's zone, key flights to
-- airlines, airports and the plane valid on the flight date, and aggregate the three marts.
-- What it does not do: write a raw or staged copy, lineage columns, quarantine records,
-- metadata or per-day reconciliation; that is what the platform adds on top of the floor.

SET TimeZone = 'UTC';

-- 'NA' and empty text are null, as in transforms/parsing.py.
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
-- A wall-clock time in `zone` as a UTC instant: at a fall-back hour the earlier instant, in a
-- spring-forward gap null (ICU alone would take the later instant and shift gap times forward).
CREATE OR REPLACE TEMP MACRO local_to_utc(ts, zone) AS CASE
    WHEN timezone(zone, timezone(zone, ts) - INTERVAL 1 HOUR) = ts
        THEN timezone(zone, ts) - INTERVAL 1 HOUR
    WHEN timezone(zone, timezone(zone, ts)) = ts THEN timezone(zone, ts)
END;
CREATE OR REPLACE TEMP MACRO day_shift(arrival, departure) AS CASE
    WHEN epoch(arrival) - epoch(departure) <= 0 THEN 1
    WHEN epoch(arrival) - epoch(departure) > 86400 THEN -1
    ELSE 0
END;
CREATE OR REPLACE TEMP MACRO utc_instant(x) AS
    try_strptime(nz(x), '%Y-%m-%dT%H:%M:%SZ')::TIMESTAMPTZ;

-- Reference tables: the newest snapshot, the last line per key (staged airlines/airports),
-- and every planes snapshot (staged planes).
CREATE TEMP TABLE airlines AS
SELECT nz(carrier) AS carrier, nz(name) AS name
FROM (
    SELECT *, file_day(filename) AS snap, row_number() OVER () AS line
    FROM read_csv(getvariable('landing') || '/airlines/*.csv', all_varchar = true,
                  header = true, filename = true)
)
WHERE snap = (SELECT max(file_day(file)) FROM glob(getvariable('landing') || '/airlines/*.csv'))
QUALIFY row_number() OVER (PARTITION BY nz(carrier) ORDER BY line DESC) = 1;

CREATE TEMP TABLE airports AS
SELECT nz(faa) AS faa, nz(name) AS name, nz(tzone) AS tzone
FROM (
    SELECT *, file_day(filename) AS snap, row_number() OVER () AS line
    FROM read_csv(getvariable('landing') || '/airports/*.csv', all_varchar = true,
                  header = true, filename = true)
)
WHERE snap = (SELECT max(file_day(file)) FROM glob(getvariable('landing') || '/airports/*.csv'))
QUALIFY row_number() OVER (PARTITION BY nz(faa) ORDER BY line DESC) = 1;

CREATE TEMP TABLE plane_snapshots AS
SELECT DISTINCT nz(tailnum) AS tailnum, file_day(filename) AS snapshot_date
FROM read_csv(getvariable('landing') || '/planes/*.csv', all_varchar = true, header = true,
              filename = true);
CREATE TEMP TABLE snapshot_days AS SELECT DISTINCT snapshot_date FROM plane_snapshots;

-- Flights: typed, with staging errors flagged (transforms/flights.py stage_flights). Each
-- intermediate table is dropped as soon as the next is built, to bound memory.
CREATE TEMP TABLE typed_flights AS
WITH raw AS (
    SELECT *, file_day(filename) AS delivered_for, row_number() OVER () AS line
    FROM read_csv(getvariable('landing') || '/flights/*.csv', all_varchar = true,
                  header = true, filename = true)
), typed AS (
    SELECT
        line, delivered_for,
        TRY_CAST(nz(year) AS SMALLINT) AS year,
        TRY_CAST(nz(month) AS TINYINT) AS month,
        TRY_CAST(nz(day) AS TINYINT) AS day,
        TRY_CAST(nz(dep_time) AS SMALLINT) AS dep_time,
        TRY_CAST(nz(sched_dep_time) AS SMALLINT) AS sched_dep_time,
        TRY_CAST(nz(dep_delay) AS SMALLINT) AS dep_delay,
        TRY_CAST(nz(arr_time) AS SMALLINT) AS arr_time,
        TRY_CAST(nz(sched_arr_time) AS SMALLINT) AS sched_arr_time,
        TRY_CAST(nz(arr_delay) AS SMALLINT) AS arr_delay,
        nz(carrier) AS carrier,
        TRY_CAST(nz(flight) AS INTEGER) AS flight,
        nz(tailnum) AS tailnum,
        nz(origin) AS origin,
        nz(dest) AS dest,
        TRY_CAST(nz(air_time) AS SMALLINT) AS air_time,
        TRY_CAST(nz(distance) AS SMALLINT) AS distance,
        utc_instant(time_hour) AS time_hour,
        -- a field that is not a null token yet did not parse
        (nz(year) IS NOT NULL AND TRY_CAST(nz(year) AS SMALLINT) IS NULL)
        OR (nz(month) IS NOT NULL AND TRY_CAST(nz(month) AS TINYINT) IS NULL)
        OR (nz(day) IS NOT NULL AND TRY_CAST(nz(day) AS TINYINT) IS NULL)
        OR (nz(dep_time) IS NOT NULL AND TRY_CAST(nz(dep_time) AS SMALLINT) IS NULL)
        OR (nz(sched_dep_time) IS NOT NULL AND TRY_CAST(nz(sched_dep_time) AS SMALLINT) IS NULL)
        OR (nz(dep_delay) IS NOT NULL AND TRY_CAST(nz(dep_delay) AS SMALLINT) IS NULL)
        OR (nz(arr_time) IS NOT NULL AND TRY_CAST(nz(arr_time) AS SMALLINT) IS NULL)
        OR (nz(sched_arr_time) IS NOT NULL AND TRY_CAST(nz(sched_arr_time) AS SMALLINT) IS NULL)
        OR (nz(arr_delay) IS NOT NULL AND TRY_CAST(nz(arr_delay) AS SMALLINT) IS NULL)
        OR (nz(flight) IS NOT NULL AND TRY_CAST(nz(flight) AS INTEGER) IS NULL)
        OR (nz(air_time) IS NOT NULL AND TRY_CAST(nz(air_time) AS SMALLINT) IS NULL)
        OR (nz(distance) IS NOT NULL AND TRY_CAST(nz(distance) AS SMALLINT) IS NULL)
        OR (nz(time_hour) IS NOT NULL AND utc_instant(time_hour) IS NULL) AS type_error
    FROM raw
)
SELECT *, TRY(make_date(year, month, day)) AS flight_date FROM typed;

-- Clean rows with timestamps (add_timestamps), arrival zone and UTC (add_arrival_utc).
CREATE TEMP TABLE timed_flights AS
WITH clean AS (
    SELECT * FROM typed_flights
    WHERE NOT type_error
      AND year IS NOT NULL AND month IS NOT NULL AND day IS NOT NULL AND carrier IS NOT NULL
      AND flight IS NOT NULL AND origin IS NOT NULL AND sched_dep_time IS NOT NULL
      AND dest IS NOT NULL
      AND flight_date IS NOT NULL AND flight_date = delivered_for
      AND NOT coalesce(bad_hhmm(sched_dep_time), false)
      AND NOT coalesce(bad_hhmm(dep_time), false)
      AND NOT coalesce(bad_hhmm(sched_arr_time), false)
      AND NOT coalesce(bad_hhmm(arr_time), false)
), minutes AS (
    SELECT *,
        hhmm_minutes(sched_dep_time) AS sched_dep_m,
        hhmm_minutes(dep_time) + 1440 * day_offset(
            hhmm_minutes(sched_dep_time), dep_delay, hhmm_minutes(dep_time)) AS dep_m,
        arrival_minutes(hhmm_minutes(sched_dep_time), hhmm_minutes(sched_arr_time)) AS sched_arr_m
    FROM clean
), local AS (
    SELECT *,
        local_to_utc(flight_date + to_minutes(sched_dep_m), 'America/New_York') AS sched_dep_utc,
        flight_date + to_minutes(sched_arr_m) AS sched_arr_local0,
        flight_date + to_minutes(CASE WHEN arr_delay IS NOT NULL
            THEN hhmm_minutes(arr_time)
                 + 1440 * day_offset(sched_arr_m, arr_delay, hhmm_minutes(arr_time))
            ELSE arrival_minutes(dep_m, hhmm_minutes(arr_time)) END) AS arr_local0
    FROM minutes
), departed AS (
    SELECT l.*, a.tzone AS dest_tzone,
        CASE WHEN dep_time IS NULL THEN NULL
             WHEN dep_delay IS NOT NULL THEN sched_dep_utc + to_minutes(dep_delay)
             ELSE local_to_utc(flight_date + to_minutes(dep_m), 'America/New_York')
        END AS dep_utc
    FROM local l LEFT JOIN airports a ON a.faa = l.dest
), shifted AS (
    SELECT *,
        day_shift(local_to_utc(sched_arr_local0, dest_tzone), sched_dep_utc) AS sched_shift
    FROM departed
), shifted2 AS (
    SELECT *,
        sched_arr_local0 + to_days(sched_shift) AS sched_arr_local,
        arr_local0 + to_days(CASE WHEN arr_delay IS NOT NULL THEN sched_shift ELSE 0 END)
            AS arr_local1
    FROM shifted
), arrived AS (
    SELECT *,
        local_to_utc(sched_arr_local, dest_tzone) AS sched_arr_utc,
        arr_local1 + to_days(CASE WHEN arr_delay IS NOT NULL THEN 0
            ELSE day_shift(local_to_utc(arr_local1, dest_tzone), dep_utc) END) AS arr_local
    FROM shifted2
)
SELECT *,
    CASE WHEN arr_time IS NULL THEN NULL
         WHEN arr_delay IS NOT NULL THEN sched_arr_utc + to_minutes(arr_delay)
         ELSE local_to_utc(arr_local, dest_tzone)
    END AS arr_utc,
    dep_time IS NULL AS cancelled
FROM arrived;
DROP TABLE typed_flights;

-- The contract (contracts/flights.py), then the last delivery of each business key.
CREATE TEMP TABLE flights AS
SELECT * FROM timed_flights
WHERE sched_arr_time IS NOT NULL AND distance IS NOT NULL AND time_hour IS NOT NULL
  AND sched_dep_utc IS NOT NULL AND sched_arr_local IS NOT NULL
  AND month BETWEEN 1 AND 12 AND day BETWEEN 1 AND 31
  AND length(carrier) = 2 AND origin IN ('EWR', 'JFK', 'LGA') AND length(dest) = 3
  AND flight > 0 AND coalesce(air_time > 0, true) AND distance > 0
  AND coalesce(dep_delay BETWEEN -2880 AND 2880, true)
  AND coalesce(arr_delay BETWEEN -2880 AND 2880, true)
  AND (NOT cancelled OR (arr_time IS NULL AND arr_delay IS NULL))
  AND coalesce(arr_utc > dep_utc, true)
QUALIFY row_number() OVER (
    PARTITION BY year, month, day, carrier, flight, origin, sched_dep_time ORDER BY line DESC
) = 1;
DROP TABLE timed_flights;

-- Weather (transforms/weather.py, contracts/weather.py).
CREATE TEMP TABLE weather AS
WITH raw AS (
    SELECT *, file_day(filename) AS delivered_for, row_number() OVER () AS line
    FROM read_csv(getvariable('landing') || '/weather/*.csv', all_varchar = true,
                  header = true, filename = true)
), typed AS (
    SELECT line, delivered_for,
        nz(origin) AS origin,
        TRY_CAST(nz(year) AS SMALLINT) AS year,
        TRY_CAST(nz(month) AS TINYINT) AS month,
        TRY_CAST(nz(day) AS TINYINT) AS day,
        TRY_CAST(nz(hour) AS TINYINT) AS hour,
        TRY_CAST(nz(temp) AS DOUBLE) AS temp,
        TRY_CAST(nz(dewp) AS DOUBLE) AS dewp,
        TRY_CAST(nz(humid) AS DOUBLE) AS humid,
        TRY_CAST(nz(wind_dir) AS SMALLINT) AS wind_dir,
        TRY_CAST(nz(wind_speed) AS DOUBLE) AS wind_speed,
        TRY_CAST(nz(wind_gust) AS DOUBLE) AS wind_gust,
        TRY_CAST(nz(precip) AS DOUBLE) AS precip,
        TRY_CAST(nz(pressure) AS DOUBLE) AS pressure,
        TRY_CAST(nz(visib) AS DOUBLE) AS visib,
        utc_instant(time_hour) AS time_hour,
        (nz(year) IS NOT NULL AND TRY_CAST(nz(year) AS SMALLINT) IS NULL)
        OR (nz(month) IS NOT NULL AND TRY_CAST(nz(month) AS TINYINT) IS NULL)
        OR (nz(day) IS NOT NULL AND TRY_CAST(nz(day) AS TINYINT) IS NULL)
        OR (nz(hour) IS NOT NULL AND TRY_CAST(nz(hour) AS TINYINT) IS NULL)
        OR (nz(temp) IS NOT NULL AND TRY_CAST(nz(temp) AS DOUBLE) IS NULL)
        OR (nz(dewp) IS NOT NULL AND TRY_CAST(nz(dewp) AS DOUBLE) IS NULL)
        OR (nz(humid) IS NOT NULL AND TRY_CAST(nz(humid) AS DOUBLE) IS NULL)
        OR (nz(wind_dir) IS NOT NULL AND TRY_CAST(nz(wind_dir) AS SMALLINT) IS NULL)
        OR (nz(wind_speed) IS NOT NULL AND TRY_CAST(nz(wind_speed) AS DOUBLE) IS NULL)
        OR (nz(wind_gust) IS NOT NULL AND TRY_CAST(nz(wind_gust) AS DOUBLE) IS NULL)
        OR (nz(precip) IS NOT NULL AND TRY_CAST(nz(precip) AS DOUBLE) IS NULL)
        OR (nz(pressure) IS NOT NULL AND TRY_CAST(nz(pressure) AS DOUBLE) IS NULL)
        OR (nz(visib) IS NOT NULL AND TRY_CAST(nz(visib) AS DOUBLE) IS NULL)
        OR (nz(time_hour) IS NOT NULL AND utc_instant(time_hour) IS NULL) AS type_error
    FROM raw
), dated AS (
    SELECT *, TRY(make_date(year, month, day)) AS weather_date,
        timezone('America/New_York', time_hour) AS obs_local
    FROM typed
)
SELECT origin, time_hour, visib, precip, wind_speed FROM dated
WHERE NOT type_error
  AND origin IS NOT NULL AND time_hour IS NOT NULL AND year IS NOT NULL AND month IS NOT NULL
  AND day IS NOT NULL AND hour IS NOT NULL
  AND weather_date IS NOT NULL AND weather_date = delivered_for
  AND origin IN ('EWR', 'JFK', 'LGA') AND hour BETWEEN 0 AND 23
  AND coalesce(temp BETWEEN -40 AND 130, true) AND coalesce(dewp BETWEEN -60 AND 100, true)
  AND coalesce(humid BETWEEN 0 AND 100, true) AND coalesce(wind_dir BETWEEN 0 AND 360, true)
  AND coalesce(wind_speed BETWEEN 0 AND 150, true)
  AND coalesce(wind_gust BETWEEN 0 AND 200, true)
  AND coalesce(precip BETWEEN 0 AND 10, true)
  AND coalesce(pressure BETWEEN 900 AND 1100, true)
  AND coalesce(visib BETWEEN 0 AND 10, true)
  AND obs_local::DATE = weather_date AND hour(obs_local) = hour
QUALIFY row_number() OVER (PARTITION BY origin, time_hour ORDER BY line DESC) = 1;

-- The fact: each flight keyed to its airline, airports and the plane version valid on its
-- date (a plane is known when the newest planes snapshot on or before that date lists it;
-- the same answer as the platform's SCD2 as-of join). Unknown members are counted.
CREATE TEMP TABLE fct_flights AS
SELECT f.flight_date, f.carrier, f.origin, f.dest, f.time_hour, f.dep_utc, f.arr_utc,
    f.dep_delay, f.arr_delay, f.distance, f.cancelled,
    al.name AS carrier_name, ap.name AS dest_name,
    al.carrier IS NULL AS unknown_airline,
    ao.faa IS NULL AS unknown_origin,
    ap.faa IS NULL AS unknown_dest,
    p.tailnum IS NULL AS unknown_plane
FROM flights f
LEFT JOIN airlines al ON al.carrier = f.carrier
LEFT JOIN airports ao ON ao.faa = f.origin
LEFT JOIN airports ap ON ap.faa = f.dest
ASOF LEFT JOIN snapshot_days s ON f.flight_date >= s.snapshot_date
LEFT JOIN plane_snapshots p ON p.tailnum = f.tailnum AND p.snapshot_date = s.snapshot_date;
DROP TABLE flights;

CREATE TEMP TABLE fact_fingerprint AS
SELECT count(*) AS rows,
    count(*) FILTER (WHERE cancelled) AS cancelled,
    count(arr_utc) AS arrivals_utc,
    sum(epoch_ms(dep_utc) // 1000)::BIGINT AS dep_utc_seconds,
    sum(epoch_ms(arr_utc) // 1000)::BIGINT AS arr_utc_seconds,
    count(*) FILTER (WHERE unknown_airline) AS unknown_airline,
    count(*) FILTER (WHERE unknown_origin) AS unknown_origin,
    count(*) FILTER (WHERE unknown_dest) AS unknown_dest,
    count(*) FILTER (WHERE unknown_plane) AS unknown_plane
FROM fct_flights;

-- The marts (transforms/marts.py).
CREATE TEMP TABLE mart_ontime_daily AS
SELECT flight_date, carrier, any_value(carrier_name) AS carrier_name, origin,
    count(*) AS flights, count(*) FILTER (WHERE cancelled) AS cancelled,
    count(arr_delay) AS arrived, avg(arr_delay) AS mean_arr_delay,
    avg((arr_delay > 15)::DOUBLE) AS delayed_share
FROM fct_flights GROUP BY flight_date, carrier, origin;

CREATE TEMP TABLE mart_routes AS
SELECT origin, dest, any_value(dest_name) AS dest_name,
    min(flight_date) AS first_date, max(flight_date) AS last_date,
    count(*) AS flights, count(*) FILTER (WHERE cancelled) AS cancelled,
    avg(dep_delay) AS mean_dep_delay, avg(arr_delay) AS mean_arr_delay,
    avg(distance) AS distance
FROM fct_flights GROUP BY origin, dest;

CREATE TEMP TABLE mart_delay_weather AS
WITH banded AS (
    SELECT f.flight_date, f.origin, f.dep_delay,
        CASE WHEN w.visib IS NULL THEN 'no observation' WHEN w.visib < 1 THEN '<1 mi'
             WHEN w.visib < 3 THEN '1-3 mi' WHEN w.visib < 5 THEN '3-5 mi'
             WHEN w.visib < 10 THEN '5-10 mi' ELSE '10+ mi' END AS visibility,
        CASE WHEN w.precip IS NULL THEN 'no observation' WHEN w.precip = 0 THEN 'none'
             WHEN w.precip < 0.1 THEN 'light (<0.1 in)' ELSE 'heavy (>=0.1 in)'
        END AS precipitation,
        CASE WHEN w.wind_speed IS NULL THEN 'no observation'
             WHEN w.wind_speed < 10 THEN '<10 mph' WHEN w.wind_speed < 20 THEN '10-20 mph'
             ELSE '20+ mph' END AS wind
    FROM fct_flights f
    LEFT JOIN weather w ON w.origin = f.origin AND w.time_hour = f.time_hour
    WHERE NOT f.cancelled
)
SELECT flight_date, origin, visibility, precipitation, wind,
    count(*) AS flights, avg(dep_delay) AS mean_dep_delay,
    avg((dep_delay > 15)::DOUBLE) AS delayed_share
FROM banded GROUP BY ALL;
